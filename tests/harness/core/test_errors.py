from __future__ import annotations

from harness.core.errors import ConfigError


def test_config_error_text() -> None:
    assert str(ConfigError("--users", "'x' is not a number", "give e.g. 10")) == (
        "--users: 'x' is not a number; give e.g. 10"
    )
