"""Exceptions, split by who is at fault (h11's Local/Remote split).

* :class:`StreamloadError`
    * :class:`ConfigError`: the user's input is wrong; names the field and the fix.
    * :class:`HarnessError`: streamload itself failed or was misused.

Protocol breaches by a peer are never exceptions: they are
:class:`harness.core.rules.Violation` values, recorded and reported.
"""

from __future__ import annotations


__all__ = ["ConfigError", "HarnessError", "StreamloadError"]


class StreamloadError(Exception):
    """Base class of every error streamload raises on purpose."""


class ConfigError(StreamloadError):
    """Bad user input: a flag, a profile entry, an environment variable.

    The text has the form ``"<field>: <problem>; <fix>"``.
    """

    def __init__(self, field: str, problem: str, fix: str) -> None:
        super().__init__(field, problem, fix)
        self.field = field
        self.problem = problem
        self.fix = fix

    def __str__(self) -> str:
        return f"{self.field}: {self.problem}; {self.fix}"


class HarnessError(StreamloadError):
    """streamload itself failed (a child process died, a port never opened)."""
