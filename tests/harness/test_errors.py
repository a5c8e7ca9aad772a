from __future__ import annotations

from harness.errors import ConfigError, PlatformError


def test_config_error_text() -> None:
    assert str(ConfigError("--users", "'x' is not a number", "give e.g. 10")) == (
        "--users: 'x' is not a number; give e.g. 10"
    )


def test_platform_error_truncates_the_body() -> None:
    assert (
        str(PlatformError("create", 500, "x" * 300)) == "create: HTTP 500: " + "x" * 200
    )
