"""``--tag key=value``: a user's labels for a run (k6's ``--tag``), checked.

Tags travel from the command line to ``run.json`` and from there to
``summary.json`` and the report's header, so a CI job can mark a run with its
branch, build or environment and find it again. They are labels, not
secrets: they are printed as given.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

from harness.core.errors import ConfigError


__all__ = ["MAX_TAGS", "parse_tags"]

MAX_TAGS: Final = 50
_KEY: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]{0,63}")
"""A key a CI system can use as a label or column name."""
_MAX_VALUE: Final = 256


def parse_tags(values: Iterable[str], flag: str = "--tag") -> dict[str, str]:
    """``["branch=main", "build=42"]`` -> ``{"branch": "main", "build": "42"}``.

    Raises:
        ConfigError: no ``=``, a bad key, a value too long or with control
            characters, a key given twice, or too many tags; the message names
            ``flag`` and the fix.
    """
    tags: dict[str, str] = {}
    for text in values:
        key, eq, value = text.partition("=")
        key = key.strip()
        shown = f"{flag} {text!r}"
        if not eq:
            raise ConfigError(shown, "has no '='", f"write {flag} key=value")
        if not _KEY.fullmatch(key):
            raise ConfigError(
                shown,
                "has a bad key",
                "a key starts with a letter or _, then up to 63 letters, digits, "
                "_ . or -, e.g. --tag branch=main",
            )
        if len(value) > _MAX_VALUE or any(ord(c) < 32 or ord(c) == 127 for c in value):
            raise ConfigError(
                shown,
                f"has a value longer than {_MAX_VALUE} characters or with control "
                "characters",
                "shorten it to one plain line",
            )
        if key in tags:
            raise ConfigError(shown, f"repeats the key {key!r}", "give each key once")
        tags[key] = value
    if len(tags) > MAX_TAGS:
        raise ConfigError(flag, f"{len(tags)} tags given", f"give at most {MAX_TAGS}")
    return tags
