"""The platform dials only loopback and its --allow-dial addresses (issue 13, item 10)."""

from __future__ import annotations

import pytest

from harness.core.errors import ConfigError
from harness.platform.core.dial import DialPolicy, parse_allow


def test_loopback_is_dialled_by_default_and_nothing_else() -> None:
    policy = DialPolicy()
    for url in (
        "wss://127.0.0.1:8443/s",
        "wss://127.9.9.9/s",
        "wss://localhost:1/s",
        "wss://[::1]:8443/s",
        "https://LOCALHOST/cb",
    ):
        assert policy.check("Url", url) is None, url
    refused = policy.check("Url", "wss://10.255.0.1/stream")
    assert refused is not None
    assert (refused.field, refused.status, refused.code) == ("Url", 400, 31922)
    assert "10.255.0.1:443" in refused.message
    assert "--allow-dial 10.255.0.1:443" in refused.message
    callback = policy.check("StatusCallback", "http://192.0.2.7:8080/cb")
    assert callback is not None
    assert (callback.field, callback.code) == ("StatusCallback", 21402)
    assert "192.0.2.7:8080" in callback.message


def test_allow_dial_adds_a_host_or_a_host_and_port() -> None:
    policy = DialPolicy.from_flags(
        ["rx.example.com", "10.0.0.5:8443", "[2001:db8::1]:9"]
    )
    assert policy.check("Url", "wss://RX.example.com:7/s") is None
    assert policy.check("Url", "wss://10.0.0.5:8443/s") is None
    assert policy.check("Url", "wss://10.0.0.5/s") is not None  # 443 is not 8443
    assert policy.check("Url", "wss://[2001:db8:0::1]:9/s") is None
    refused = policy.check("Url", "wss://[2001:db8::2]:9/s")
    assert refused is not None and "[2001:db8::2]:9" in refused.message
    assert policy.check("StatusCallback", None) is None


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("h", ("h", None)),
        ("H.example:80", ("h.example", 80)),
        ("[::1]:5", ("::1", 5)),
        ("2001:db8::1", ("2001:db8::1", None)),
    ],
)
def test_parse_allow(text: str, parsed: tuple[str, int | None]) -> None:
    assert parse_allow(text) == parsed


@pytest.mark.parametrize("text", ["", ":80", "h:0", "h:x", "h:70000", "[::1", "[::1]x"])
def test_parse_allow_names_the_flag_and_the_fix(text: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_allow(text)
    assert caught.value.field == "--allow-dial" and "HOST:PORT" in caught.value.fix
