from __future__ import annotations

import pytest

from harness.core.config import parse_duration
from harness.core.errors import ConfigError


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30),
        ("2m", 120),
        ("1h30m", 5400),
        ("1.5s", 1.5),
        ("250ms", 0.25),
        ("5", 5),
    ],
)
def test_durations(text, seconds) -> None:
    assert parse_duration("--duration", text) == seconds


@pytest.mark.parametrize("text", ["", "abc", "0", "-1s", "10x", "nan"])
def test_bad_durations_name_the_field_and_the_fix(text) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_duration("--duration", text)
    assert str(raised.value) == (
        f"--duration: {text!r} is not a positive duration; write it like 30s, 2m, 1h30m or 250ms"
    )
