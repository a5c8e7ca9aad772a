"""``summary.json``: the machine-readable summary, for CI scripts and ``compare``."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


__all__ = ["render"]


def render(summary: Mapping[str, Any]) -> str:
    """Serialise ``summary`` as indented JSON; NaN or infinity is a bug, not output."""
    return json.dumps(summary, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
