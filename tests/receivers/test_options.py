"""receivers.options: every flag parses into Options and back, for workers too."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from harness.core.errors import ConfigError
from harness.core.target import is_loopback
from harness.io.tls import TlsFiles
from receivers.options import (
    TRANSPORT_ENV,
    Options,
    argv,
    flag_values,
    parse_args,
    parser,
)
from receivers.server import DEFAULT_TRANSPORT, TRANSPORTS, ServerConfig
from receivers.workers import worker_argv


names = st.text(
    st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="/"),
    min_size=1,
    max_size=12,
)
seconds = st.floats(min_value=1e-3, max_value=1e7, allow_nan=False)


@st.composite
def options(draw: st.DrawFn, tls: TlsFiles) -> Options:
    """Any Options that ``parse_args`` accepts (the token aside)."""
    host = draw(st.sampled_from(["127.0.0.1", "127.0.0.9", "::1", "0.0.0.0", "::"]))
    on = draw(st.booleans())
    behind_proxy = draw(st.booleans()) or (not on and not is_loopback(host))
    own_pair = on and draw(st.booleans())
    server = ServerConfig(
        host=host,
        port=draw(st.integers(0, 65535)),
        path="/" + draw(st.text(max_size=10)).replace("\x00", ""),
        max_size=draw(st.integers(1024, 2**31)),
        idle_timeout=draw(seconds),
        reuse_port=draw(st.booleans()),
        behind_proxy=behind_proxy,
        transport=draw(st.sampled_from(TRANSPORTS)),
    )
    return Options(
        server=server,
        cert_file=Path(tls.cert_file) if own_pair else None,
        key_file=Path(tls.key_file) if own_pair else None,
        run_dir=Path("/nonexistent-streamload") / draw(names),
        producer=draw(names),
        max_duration=draw(seconds),
        stats_interval=draw(seconds),
        processes=draw(st.integers(1, 256)),
        tls=on,
        behind_proxy=behind_proxy,
        public_url=draw(
            st.sampled_from(["", "wss://rx.example.com/stream", "ws://127.0.0.1:9/x"])
        ),
        ca_file=draw(st.none() | st.just(Path(tls.ca_file))),
    )


_settings = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def test_every_option_round_trips_through_argv(tls_files: TlsFiles) -> None:
    @_settings
    @given(options(tls_files))
    def check(o: Options) -> None:
        assert parse_args(argv(o), environ={}) == o

    check()


def test_worker_argv_gives_the_worker_s_options(tls_files: TlsFiles) -> None:
    @_settings
    @given(options(tls_files), st.integers(1, 65535), st.integers(0, 255))
    def check(o: Options, port: int, index: int) -> None:
        line = worker_argv(o, port, index)
        assert line[:2] == ["-m", "receivers"]
        worker = parse_args(line[2:], environ={})
        assert (worker.server.port, worker.server.reuse_port) == (port, True)
        assert (worker.producer, worker.processes) == (f"{o.producer}-{index + 1}", 1)
        # everything else is the supervisor's own
        assert (
            dataclasses.replace(
                worker,
                server=dataclasses.replace(
                    worker.server, port=o.server.port, reuse_port=o.server.reuse_port
                ),
                producer=o.producer,
                processes=o.processes,
            )
            == o
        )

    check()


def test_flag_values_name_every_flag_once(tls_files: TlsFiles) -> None:
    o = parse_args(["--run-dir", "/nonexistent-streamload/r"], environ={})
    dests = {a.dest for a in parser()._actions if a.option_strings}
    assert set(flag_values(o)) == dests - {"help", "host", "port"}


def test_a_value_that_looks_like_a_flag_survives() -> None:
    o = parse_args(
        ["--run-dir", "/nonexistent-streamload/r", "--producer=--tls"], environ={}
    )
    assert o.producer == "--tls"
    assert parse_args(argv(o), environ={}) == o


def test_the_token_stays_off_the_command_line() -> None:
    o = parse_args(
        ["--run-dir", "/nonexistent-streamload/r"],
        environ={"STREAMLOAD_BEARER_TOKEN": "s3cret-token"},
    )
    assert o.server.token is not None
    assert not any("s3cret-token" in arg for arg in argv(o))


def test_the_transport_is_the_flag_else_the_environment_else_picows(
    tls_files: TlsFiles, tmp_path: Path
) -> None:
    base = ["--cert-file", str(tls_files.cert_file), "--key-file",
            str(tls_files.key_file), "--run-dir", str(tmp_path)]  # fmt: skip
    env = {TRANSPORT_ENV: "websockets"}
    assert DEFAULT_TRANSPORT == "picows"
    assert parse_args(base, environ={}).server.transport == "picows"
    assert parse_args(base, environ=env).server.transport == "websockets"
    flag = [*base, "--transport", "picows"]
    assert parse_args(flag, environ=env).server.transport == "picows"
    with pytest.raises(ConfigError, match=f"^{TRANSPORT_ENV}: 'ws' is not a transport"):
        parse_args(base, environ={TRANSPORT_ENV: "ws"})
