"""The exit codes every streamload process answers with, and what each means.

A CI job reads nothing but the exit code, and the same job may end in any of
the processes (``streamload``, the report, the receivers, the reference
platform, the conformance suite, the comparison): so each code means the same
thing whichever process returns it. The README's table is checked against
:data:`MEANINGS` by a test, and ``streamload --help`` prints :func:`help_text`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final


__all__ = [
    "EXIT_FAIL",
    "EXIT_HARNESS",
    "EXIT_INTERRUPTED",
    "EXIT_PASS",
    "EXIT_USAGE",
    "MEANINGS",
    "help_text",
]

EXIT_PASS: Final = 0
"""Every gate and checked rule passed (a service: it stopped cleanly)."""
EXIT_FAIL: Final = 1
"""A gate or conformance rule failed (compare: a metric regressed)."""
EXIT_USAGE: Final = 2
"""A mistake in the command line, profile or environment; the message names the fix."""
EXIT_HARNESS: Final = 3
"""The harness itself failed (a service could not start or write its records)."""
EXIT_INTERRUPTED: Final = 130
"""Interrupted (Ctrl-C, SIGTERM); the report of what ran is still written."""

MEANINGS: Final[Mapping[int, str]] = {
    EXIT_PASS: "pass",
    EXIT_FAIL: "a gate or conformance rule failed",
    EXIT_USAGE: "usage or configuration error",
    EXIT_HARNESS: "the harness itself failed, or its records are incomplete",
    EXIT_INTERRUPTED: "interrupted (after the report is written)",
}
"""Each code and its one-line meaning, as the README's table words it."""


def help_text() -> str:
    """``exit codes: 0 pass, 1 ...``: the codes for a ``--help`` epilog."""
    return "exit codes: " + ", ".join(f"{c} {m}" for c, m in MEANINGS.items())
