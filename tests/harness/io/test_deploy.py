"""harness.io.deploy: the address, TLS and run-directory flags of deployable services."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
from hypothesis import given, strategies as st

from harness.core.errors import ConfigError
from harness.io import deploy
from harness.io.tls import TlsFiles


def parse(*argv: str) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    deploy.add_flags(p, service="svc", public_example="wss://x/stream")
    return p.parse_args(list(argv))


def resolve(*argv: str) -> deploy.Address:
    return deploy.resolve(parse(*argv), service="svc", public_schemes=("wss", "ws"))


def test_no_flag_is_loopback_a_free_port_tls_and_a_fresh_run_dir() -> None:
    a = resolve()
    assert (a.host, a.port, a.tls, a.behind_proxy, a.public_url) == (
        "127.0.0.1",
        0,
        True,
        False,
        "",
    )
    assert (a.cert_file, a.key_file) == (None, None)
    assert a.run_dir.parent == Path("runs") and a.run_dir.name.startswith("svc-")
    assert resolve().run_dir != a.run_dir


def test_listen_wins_over_the_old_host_and_port_aliases() -> None:
    a = resolve("--host", "127.0.0.2", "--port", "9", "--listen", "[::1]:8443")
    assert (a.host, a.port) == ("::1", 8443)
    assert (resolve("--port", "9").host, resolve("--port", "9").port) == (
        "127.0.0.1",
        9,
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--listen", "8443"], "--listen: '8443' is not HOST:PORT"),
        (["--listen", "h:99999"], "--listen: 'h:99999' is not HOST:PORT"),
        (["--port", "70000"], "--port: 70000 is out of range"),
        (
            ["--tls", "off", "--listen", "0.0.0.0:0"],
            "--tls: off on 0.0.0.0 would carry streams, tokens and callbacks in clear",
        ),
        (["--cert-file", "/nonexistent"], "--cert-file/--key-file: only one is given"),
        (
            ["--cert-file", "/nonexistent", "--key-file", "/x"],
            "--cert-file: '/nonexistent' is not a file",
        ),
        (
            ["--public-url", "https://x/s"],
            "--public-url: 'https://x/s' is not a wss://",
        ),
        (
            ["--public-url", "ws://rx.example.com/s"],
            "--public-url: 'ws://rx.example.com/s' is plain ws:// to a host off",
        ),
    ],
)
def test_bad_flags_name_the_flag_and_the_fix(argv: list[str], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        resolve(*argv)
    assert str(info.value).startswith(message)
    assert info.value.fix


def test_plain_off_loopback_needs_a_terminator_in_front() -> None:
    with pytest.raises(ConfigError) as info:
        resolve("--tls", "off", "--listen", "0.0.0.0:0")
    assert "--behind-proxy" in info.value.fix
    a = resolve(
        "--tls",
        "off",
        "--listen",
        "0.0.0.0:0",
        "--behind-proxy",
        "--public-url",
        "wss://rx.example.com/stream",
    )
    assert (a.tls, a.behind_proxy, a.public_url) == (
        False,
        True,
        "wss://rx.example.com/stream",
    )
    assert resolve("--tls", "off", "--listen", "127.0.0.1:0").tls is False


def test_own_certificate_is_refused_with_plain(tls_files: TlsFiles) -> None:
    files = [
        "--cert-file",
        str(tls_files.cert_file),
        "--key-file",
        str(tls_files.key_file),
    ]
    assert resolve(*files).cert_file == tls_files.cert_file
    with pytest.raises(ConfigError, match="^--cert-file/--key-file: are given with"):
        resolve(*files, "--tls", "off")


@given(
    st.one_of(st.ip_addresses(v=4).map(str), st.ip_addresses(v=6).map(str)),
    st.integers(0, 65535),
)
def test_listen_round_trips(host: str, port: int) -> None:
    text = deploy.format_listen(host, port)
    assert deploy.parse_listen("--listen", text) == (host, port)


@given(st.text(max_size=30))
def test_parse_listen_raises_only_config_errors(text: str) -> None:
    try:
        host, port = deploy.parse_listen("--listen", text)
    except ConfigError as exc:
        assert exc.field == "--listen"
    else:
        assert host and 0 <= port <= 65535


def test_local_url_maps_a_wildcard_to_loopback() -> None:
    assert deploy.local_url("ws", "0.0.0.0", 80, "/s") == "ws://127.0.0.1:80/s"
    assert deploy.local_url("wss", "::", 1, "/s") == "wss://[::1]:1/s"
    assert deploy.local_url("https", "10.0.0.5", 2, "/c") == "https://10.0.0.5:2/c"


def test_forwarded_client_prefers_forwarded_then_x_forwarded_for() -> None:
    assert (
        deploy.forwarded_client(
            {"Forwarded": 'for="[2001:db8::1]";proto=https, for=10.0.0.1'}
        )
        == "[2001:db8::1]"
    )
    assert (
        deploy.forwarded_client({"X-Forwarded-For": "203.0.113.5, 10.0.0.2"})
        == "203.0.113.5"
    )
    assert deploy.forwarded_client({}) is None
