"""harness.core.target: real targets are https (http on loopback only), credentials from env."""

from __future__ import annotations

import pytest

from harness.core.errors import ConfigError
from harness.core.target import is_loopback, parse_target, parse_wss_url


ENV = {"SIGNALWIRE_PROJECT_ID": "proj-1", "SIGNALWIRE_API_TOKEN": "PT-secret-9"}


def test_a_space_url_gets_the_api_prefix() -> None:
    target = parse_target("https://example.signalwire.com", ENV)
    assert target.url == "https://example.signalwire.com/api/laml/2010-04-01"
    assert target.project_id == "proj-1" and not target.loopback
    assert "PT-secret-9" not in repr(target) and target.token.reveal() == "PT-secret-9"


def test_a_given_path_is_kept_and_http_is_allowed_on_loopback() -> None:
    target = parse_target("http://127.0.0.1:8080/2010-04-01/", ENV)
    assert target.url == "http://127.0.0.1:8080/2010-04-01" and target.loopback


@pytest.mark.parametrize(
    ("url", "env", "message"),
    [
        ("ftp://x", ENV, "--target: 'ftp://x' is not an https:// URL"),
        ("http://example.com", ENV, "--target: plain http to example.com"),
        ("https://u:p@example.com", ENV, "--target: carries credentials in the URL"),
        ("https://example.com/?a=1", ENV, "--target: has a query or fragment"),
        (
            "https://example.com",
            {"SIGNALWIRE_API_TOKEN": "t"},
            "SIGNALWIRE_PROJECT_ID: is not set",
        ),
        (
            "https://example.com",
            {"SIGNALWIRE_PROJECT_ID": "p"},
            "SIGNALWIRE_API_TOKEN: is not set",
        ),
    ],
)
def test_bad_targets_name_the_fix(url, env, message) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_target(url, env)
    assert str(raised.value).startswith(message)


def test_loopback_names() -> None:
    assert (
        is_loopback("localhost") and is_loopback("127.0.0.9") and is_loopback("[::1]")
    )
    assert not is_loopback("10.0.0.1") and not is_loopback("example.com")


def test_receiver_urls_must_be_wss() -> None:
    assert parse_wss_url("--receiver-url", "wss://rx.example/s") == "wss://rx.example/s"
    with pytest.raises(
        ConfigError, match="--receiver-url: 'ws://rx' is not a wss:// URL"
    ):
        parse_wss_url("--receiver-url", "ws://rx")
