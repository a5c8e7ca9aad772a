"""Turn a :class:`harness.core.rules.Checker` into ``rule_checks`` and ``violations`` rows."""

from __future__ import annotations

from collections.abc import Iterator

from harness.core.rules import Checker


__all__ = ["checker_rows", "violation_rows"]


def checker_rows(
    source: str, checker: Checker
) -> Iterator[tuple[str, tuple[object, ...]]]:
    """Yield ``(table, row)`` pairs for a finished checker."""
    for rule, count in checker.counts.items():
        yield (
            "rule_checks",
            (
                source,
                checker.subject,
                rule,
                count.checks,
                count.failures,
                checker.readings.get(rule, ""),
            ),
        )
    yield from violation_rows(source, checker)


def violation_rows(
    source: str, checker: Checker
) -> Iterator[tuple[str, tuple[object, ...]]]:
    """Yield the ``violations`` rows of a finished checker (its evidence)."""
    for v in checker.violations:
        # the checker's final subject: a stream's sid is known only after ``start``
        yield (
            "violations",
            (
                source,
                v.rule,
                checker.subject,
                -1 if v.seq is None else v.seq,
                v.expected,
                v.actual,
                v.at_ns,
            ),
        )
