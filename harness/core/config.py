"""Parse user-facing values (durations, counts) with errors that name the field and the fix."""

from __future__ import annotations

import re

from harness.core.errors import ConfigError


__all__ = ["parse_duration"]

_DURATION = re.compile(r"(?:(\d+)h)?(?:(\d+)m(?!s))?(?:(\d+(?:\.\d+)?)s)?(?:(\d+)ms)?")


def parse_duration(field: str, text: str) -> float:
    """Parse ``30s``, ``2m``, ``1h30m``, ``1.5s``, ``250ms`` or bare seconds into seconds.

    Raises:
        ConfigError: the text is not a positive duration.
    """
    value = text.strip()
    seconds: float | None = None
    try:
        seconds = float(value)
    except ValueError:
        m = _DURATION.fullmatch(value)
        if m is not None and any(m.groups()):
            h, mins, s, ms = m.groups()
            seconds = (
                int(h or 0) * 3600
                + int(mins or 0) * 60
                + float(s or 0)
                + int(ms or 0) / 1000
            )
    if seconds is None or not seconds > 0 or seconds != seconds:
        raise ConfigError(
            field,
            f"{text!r} is not a positive duration",
            "write it like 30s, 2m, 1h30m or 250ms",
        )
    return seconds
