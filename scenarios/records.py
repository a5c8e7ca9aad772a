"""The Locust process's records: rows packed on the users' thread, Parquet on a writer thread.

Every start costs a ``requests`` row and one ``rule_checks`` row per rule its
answer was checked against (eight for a create). Added one by one to a
:class:`harness.io.sink.RecordSink` and flushed on the users' own thread (gevent:
one thread for every user), that was 17-20 µs a start to add and 11-14 µs to
flush, and the flush stopped every user while it ran (issue 14,
docs/performance.md "Locust: the same forms for the bare user"). So here:

* a checker's outcome becomes one small int, its **pattern**: the source and,
  per rule in order, the rule, its checks, failures and reading. Answers that
  pass (nearly all) share a handful of patterns, so a start appends its
  subject and that int; the writer expands them back into exactly the rows
  :func:`harness.core.checks_io.checker_rows` gives, in a few vectorised takes;
* violations and every other table stay tuples (they are few);
* once a second :meth:`ScenarioRecords.hand_off` swaps the batch out and a real
  OS thread (gevent's :class:`~gevent.threadpool.ThreadPool`: Locust patches
  ``threading``, so a plain thread would be a greenlet) builds the Arrow
  columns and writes the Parquet parts, releasing the GIL for most of it. Only
  that thread touches the :class:`~harness.io.sink.RecordSink` once traffic
  starts. One write is in flight at a time: a writer that falls behind makes the
  next batch larger, never stops a user.

The parts, their schemas and every row are what the per-row sink wrote
(``tests/scenarios/test_records.py`` holds them equal); only how many rows a
part holds changes. A failed write loses its own rows, counted in the sink's
:attr:`~harness.io.sink.RecordSink.loss` as before.
"""

from __future__ import annotations

import logging
import time
from array import array
from typing import Any

import numpy as np
import pyarrow as pa
from gevent.threadpool import ThreadPool

from harness.core.checks_io import violation_rows
from harness.core.rules import Checker
from harness.io.sink import RecordSink


__all__ = [
    "MAX_PATTERNS",
    "Pattern",
    "ScenarioRecords",
    "pattern_of",
    "rule_check_columns",
]

logger = logging.getLogger(__name__)

MAX_PATTERNS = 10_000
"""Distinct patterns kept; a checker past them is written as plain rows.

A peer cannot make more than a few dozen (readings and failure counts come
from small sets), but the table must stay bounded whatever it sends."""

Pattern = tuple[
    str, tuple[str, ...], tuple[int, ...], tuple[int, ...], tuple[tuple[str, str], ...]
]
"""(source, rules, checks, failures, readings): a checker's counts, hashable."""


def pattern_of(source: str, checker: Checker) -> Pattern:
    """The pattern of ``checker``'s counts (its rows less the subject), a few C calls."""
    counts = checker.counts
    values = counts.values()
    return (
        source,
        tuple(counts),
        tuple([c.checks for c in values]),
        tuple([c.failures for c in values]),
        tuple(checker.readings.items()),
    )


class _Batch:
    """One flush window: ``rule_checks`` as (subject, pattern) pairs, the rest tuples."""

    __slots__ = ("codes", "rows", "subjects")

    def __init__(self) -> None:
        self.subjects: list[str] = []
        self.codes = array("i")
        self.rows: dict[str, list[tuple[object, ...]]] = {}

    def __len__(self) -> int:
        return len(self.codes) + sum(len(rows) for rows in self.rows.values())


class ScenarioRecords:
    """A row sink for Locust's users: cheap adds on the users' thread, writes on another.

    Args:
        records: where the rows end up; after construction only the writer
            thread touches it.
    """

    def __init__(self, records: RecordSink) -> None:
        self.records = records
        self.producer = records.producer
        self._batch = _Batch()
        self._codes: dict[Pattern, int] = {}
        self._patterns: list[Pattern] = []
        self._pool: Any = None
        """The writer (a one-thread pool), made on first use: not at import."""
        self._write_under_way: Any = None

    @property
    def pending(self) -> int:
        """Rows (starts' rule outcomes counted once each) not yet handed over."""
        return len(self._batch)

    def add(self, table: str, row: tuple[object, ...]) -> None:
        """Buffer one row of ``table`` (the users' thread)."""
        rows = self._batch.rows.get(table)
        if rows is None:
            rows = self._batch.rows[table] = []
        rows.append(row)

    def add_checker(self, source: str, checker: Checker) -> None:
        """Buffer a finished checker's ``rule_checks`` and ``violations`` rows."""
        key = pattern_of(source, checker)
        code = self._codes.get(key)
        if code is None:
            if len(self._patterns) >= MAX_PATTERNS:
                self._add_plain(key, checker.subject)
            else:
                code = self._codes[key] = len(self._patterns)
                self._patterns.append(key)
        if code is not None:
            batch = self._batch
            batch.subjects.append(checker.subject)
            batch.codes.append(code)
        if checker.violations:
            for table, row in violation_rows(source, checker):
                self.add(table, row)

    def _add_plain(self, key: Pattern, subject: str) -> None:
        source, rules, checks, failures, readings = key
        reading = dict(readings)
        for i, rule in enumerate(rules):
            row = (source, subject, rule, checks[i], failures[i], reading.get(rule, ""))
            self.add("rule_checks", row)

    def hand_off(self) -> None:
        """Give the buffered rows to the writer unless a write is still under way.

        Never waits: a writer behind its cadence makes the next batch larger.
        """
        if self._write_under_way is not None and not self._write_under_way.ready():
            return
        batch = self._batch
        if not len(batch):
            return
        self._batch = _Batch()
        if self._pool is None:
            self._pool = ThreadPool(1)
        patterns = self._patterns[:]  # the writer's own view: later ones are not its
        self._write_under_way = self._pool.spawn(self._write, batch, patterns)

    def flush(self) -> None:
        """Hand everything over and wait (cooperatively) until it is written."""
        if self._write_under_way is not None:  # first the write under way
            self._write_under_way.get()
        self.hand_off()
        if self._write_under_way is not None:
            self._write_under_way.get()

    def close(self) -> None:
        """Write what is left, stop the writer and write the producer's manifest."""
        self.flush()
        if self._pool is not None:
            self._pool.kill()
            self._pool = None
        self.records.write_manifest()

    def _write(self, batch: _Batch, patterns: list[Pattern]) -> None:
        """Writer thread: every table of ``batch`` as parts, then the sink's own rows."""
        records = self.records
        try:
            for table, rows in batch.rows.items():
                if rows:
                    records.write_columns(table, list(zip(*rows, strict=True)))
            if len(batch.codes):
                records.write_columns(
                    "rule_checks",
                    rule_check_columns(batch.subjects, batch.codes, patterns),
                )
            records.flush()  # the producers row, written once
        except Exception as exc:  # RecordSink counts its own; this is a bug's
            records.loss.fail(
                "batch", len(batch), repr(exc), time.monotonic_ns(), time.time_ns()
            )
            logger.exception("writing records under %s failed", records.root)


def rule_check_columns(
    subjects: list[str], codes: array[int], patterns: list[Pattern]
) -> list[object]:
    """The ``rule_checks`` columns of (subject, pattern) pairs, in ``TABLES`` order.

    Row for row what :func:`harness.core.checks_io.checker_rows` yields for each
    checker in turn: per subject, its pattern's rules in order.
    """
    flat: list[list[object]] = [
        [],
        [],
        [],
        [],
        [],
    ]  # source, rule, checks, failures, reading
    starts = np.zeros(len(patterns), np.int64)
    lengths = np.zeros(len(patterns), np.int64)
    for p, (source, rules, checks, failures, readings) in enumerate(patterns):
        starts[p], lengths[p] = len(flat[0]), len(rules)
        reading = dict(readings)
        flat[0] += [source] * len(rules)
        flat[1] += rules
        flat[2] += checks
        flat[3] += failures
        flat[4] += [reading.get(rule, "") for rule in rules]
    code = np.frombuffer(codes, np.int32)
    per_subject = lengths[code]
    owner = np.repeat(np.arange(len(code)), per_subject)
    first = np.cumsum(per_subject) - per_subject
    index = starts[code][owner] + np.arange(len(owner)) - first[owner]
    return [
        pa.array(flat[0], pa.string()).take(index),
        pa.array(subjects, pa.string()).take(owner),
        pa.array(flat[1], pa.string()).take(index),
        np.asarray(flat[2], np.int64)[index],
        np.asarray(flat[3], np.int64)[index],
        pa.array(flat[4], pa.string()).take(index),
    ]
