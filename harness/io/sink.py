"""Append-only record files, written in batches (an I/O edge of the core).

Rows are tuples in the column order of :data:`harness.core.records.TABLES`. Each
flush writes one Parquet file per table to a temporary name and renames it into
place, so readers never see half a file and a crash loses at most the rows not
yet flushed.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import socket
import struct
import time
from array import array
from collections.abc import Callable, Sequence
from operator import itemgetter
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from harness.core.checks_io import checker_rows
from harness.core.record_loss import RecordLoss
from harness.core.records import TABLES, MemorySink, RowSink
from harness.core.rules import Checker


__all__ = [
    "Batch",
    "ColumnBuffer",
    "Columns",
    "HotBuffer",
    "MemorySink",
    "RecordSink",
    "RowSink",
    "warm_up",
]  # MemorySink and RowSink re-exported from records

logger = logging.getLogger(__name__)

_ARROW_TYPES = {
    "int64": pa.int64(),
    "int32": pa.int32(),
    "float64": pa.float64(),
    "string": pa.string(),
    "bool": pa.bool_(),
    "binary": pa.binary(),
}
_PACKED = {"int64": ("q", "=i8"), "int32": ("i", "=i4"), "float64": ("d", "=f8")}
"""struct and numpy codes of the types a :class:`ColumnBuffer` packs."""
_STRINGS = {
    table: [name for name, kind in schema if kind == "string"]
    for table, schema in TABLES.items()
}
"""The string columns of each table: the ones Parquet dictionary-encodes."""


class RecordSink:
    """Buffer rows per table and write them as Parquet parts under ``run_dir/records``.

    A write that fails (disk full, I/O error, a bad path) never raises: its rows
    are counted in :attr:`loss` with the time, its temporary file removed, and
    the producer goes on; :meth:`write_manifest` tells the report at the end.
    """

    def __init__(
        self, run_dir: Path, producer: str, kind: str, *, batch_rows: int = 50_000
    ) -> None:
        self.run_dir = Path(run_dir)
        self.root = self.run_dir / "records"
        self.producer = producer
        self.loss = RecordLoss(producer, kind)
        """Rows this producer failed to write (or its writer dropped)."""
        self.batch_rows = batch_rows
        warm_up()  # before any traffic: Locust's users share this process's one thread
        self._buffers: dict[str, list[tuple[object, ...]]] = {t: [] for t in TABLES}
        self._parts = itertools.count(1)
        self._pending = 0
        self.add(
            "producers",
            (
                producer,
                kind,
                os.getpid(),
                socket.gethostname(),
                time.time_ns(),
                time.monotonic_ns(),
            ),
        )

    def add(self, table: str, row: tuple[object, ...]) -> None:
        self._buffers[table].append(row)
        self._pending += 1
        if self._pending >= self.batch_rows:
            self.flush()

    def add_checker(self, source: str, checker: Checker) -> None:
        """Add a checker's per-rule counts and its evidence."""
        for table, row in checker_rows(source, checker):
            self.add(table, row)

    @property
    def pending(self) -> int:
        return self._pending

    def flush(self) -> None:
        """Write every non-empty buffer as one new part file per table."""
        for table, rows in self._buffers.items():
            if not rows:
                continue
            self._buffers[table] = []
            self._write(table, rows)
        self._pending = 0

    def write_columns(self, table: str, columns: Sequence[object]) -> None:
        """Write one part at once from whole columns, in ``TABLES`` order.

        For producers that buffer columnar (arrays, not tuples) because building
        per-row Python objects would cost them more than the write.
        """
        self._write_columns(table, list(columns))

    def _write(self, table: str, rows: list[tuple[object, ...]]) -> None:
        self._write_columns(table, list(zip(*rows, strict=True)))

    def _write_columns(self, table: str, columns: list[object]) -> None:
        try:
            self._write_part(table, columns)
        except Exception as exc:  # a failed write must not stop the producer
            rows = len(columns[0]) if columns else 0  # type: ignore[arg-type]
            self.loss.fail(table, rows, str(exc), time.monotonic_ns(), time.time_ns())
            logger.error(
                "%s: could not write %d %s row(s) under %s: %s",
                self.producer,
                rows,
                table,
                self.root,
                exc,
            )

    def write_manifest(self) -> Path | None:
        """Write ``RUN_DIR/producers/<producer>.json``: what this producer lost.

        Called once at exit; returns ``None`` (logged) when even that cannot be
        written (the same counts went out in the producer's stats lines).
        """
        path = self.run_dir / "producers" / f"{self.producer}.json"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps(self.loss.as_json()) + "\n", encoding="utf-8")
            os.replace(tmp, path)
        except OSError as exc:
            logger.error("%s: could not write %s: %s", self.producer, path, exc)
            return None
        return path

    def _write_part(self, table: str, columns: list[object]) -> Path:
        """Write one part under a temporary name and rename it into place."""
        schema = pa.schema([(name, _ARROW_TYPES[kind]) for name, kind in TABLES[table]])
        data = [
            col.cast(schema.field(i).type)
            if isinstance(col, pa.Array)
            else pa.array(col, type=schema.field(i).type)
            for i, col in enumerate(columns)
        ]
        directory = self.root / table
        directory.mkdir(parents=True, exist_ok=True)
        final = directory / f"{self.producer}-{next(self._parts):06d}.parquet"
        tmp = final.with_suffix(".tmp")
        try:
            pq.write_table(
                pa.Table.from_arrays(data, schema=schema),
                tmp,
                compression="zstd",
                # strings repeat (sids, tracks, rules); numbers mostly do not, and
                # trying to dictionary-encode them cost a third of a frames part's
                # write for a larger file (issue 14: 8.1 -> 5.3 ms, 430 -> 299 KB
                # per 25,000 rows)
                use_dictionary=_STRINGS[table],
            )
            os.replace(tmp, final)
        except BaseException:
            tmp.unlink(missing_ok=True)  # a half part must not fill the disk further
            raise
        return final


_warmed: list[bool] = []
"""Set once :func:`warm_up` has run in this process."""


def warm_up() -> None:
    """Pay Arrow's one-time costs now, before any traffic is timed (once a process).

    The first conversion of Python objects imports lazily (pandas and
    ``pyarrow.compute``: ~0.2 s on a quiet VM, seconds on a busy one) and the
    first ``take`` initialises the compute kernels (~0.35 s on a small VM),
    both with the GIL held: left to the first flush on the writer thread, they
    would stall the event loop, and the frames behind it, for that long. In a
    Locust process the first flush runs on the users' own thread (gevent), so
    every user stopped for it, inside the measured load (issue 14: 17 % of a
    10 s StreamUser benchmark's samples). :class:`RecordSink` calls this.
    """
    if _warmed:
        return
    pa.array(["warm-up"], pa.string()).take(np.zeros(1, np.int32))
    _warmed.append(True)


def _tuple_of(indices: list[int]) -> Callable[[tuple[object, ...]], tuple[Any, ...]]:
    """A C-speed getter of ``row[i] for i in indices``, a tuple even for one index."""
    if len(indices) == 1:
        return itemgetter(slice(indices[0], indices[0] + 1))
    return itemgetter(*indices)


class ColumnBuffer:
    """One flush window of a hot table's rows, packed flat instead of kept as tuples.

    Turning a second of frame tuples into Arrow walks tens of thousands of Python
    objects with the GIL held: a 20-40 ms stall of the event loop at every flush,
    which lands in the very times being measured. So the loop only packs each
    row's numbers into one ``bytearray`` (a single C call) and each row's strings
    (stream sid, track), which repeat, as one small int; the writer thread turns
    both back into columns in a few vectorised copies. Columns follow
    :data:`harness.core.records.TABLES`; string, int64, int32 and float64 only.
    """

    __slots__ = (
        "table",
        "_dtype",
        "_index",
        "_key",
        "_keys",
        "_numbers",
        "_pack",
        "_rows",
    )

    def __init__(self, table: str) -> None:
        self.table = table
        schema = TABLES[table]
        strings = [i for i, (_, kind) in enumerate(schema) if kind == "string"]
        numbers = [i for i, (_, kind) in enumerate(schema) if kind in _PACKED]
        if not strings or not numbers or len(strings) + len(numbers) < len(schema):
            raise ValueError(f"{table!r} is not a table of strings and numbers")
        self._key = _tuple_of(strings)
        self._numbers = _tuple_of(numbers)
        # "=": standard sizes, no padding, so numpy reads it as packed records
        codes = [_PACKED[schema[i][1]] for i in numbers]
        self._pack = struct.Struct("=" + "".join(c for c, _ in codes)).pack
        self._dtype = np.dtype(
            [(schema[i][0], d) for i, (_, d) in zip(numbers, codes, strict=True)]
        )
        self._keys: dict[tuple[str, ...], int] = {}
        self._index = array("i")
        self._rows = bytearray()

    def __len__(self) -> int:
        return len(self._index)

    def add(self, row: tuple[object, ...]) -> None:
        """Buffer one row; one whose number does not fit its column is dropped, alone.

        A peer's number beyond int64 (chunk ``99999999999999999999``) must not
        cost the whole batch: packing is all or nothing, so the columns stay aligned.
        """
        try:
            self._rows += self._pack(*self._numbers(row))
        except struct.error:
            logger.warning("dropped a %s row with an out-of-range number", self.table)
            return
        key = self._key(row)
        keys = self._keys
        code = keys.get(key)
        if code is None:
            code = keys[key] = len(keys)
        self._index.append(code)

    def packed(self) -> tuple[np.ndarray, np.ndarray, list[tuple[str, ...]]]:
        """The rows as they are held: numbers (a record array, fields named as
        the table's number columns), each row's key index, and the keys (the
        row's strings). Read-only views; for a reader on the writer thread,
        once the buffer has been handed off."""
        packed = np.frombuffer(self._rows, dtype=self._dtype)
        index = np.frombuffer(self._index, dtype=np.int32)
        return packed, index, list(self._keys)

    def columns(self) -> list[object]:
        """Arrow/numpy columns in ``TABLES`` order (on the writer thread)."""
        packed, index, keys = self.packed()
        out: list[object] = []
        string = 0
        for name, kind in TABLES[self.table]:
            if kind == "string":
                values = pa.array([key[string] for key in keys], pa.string())
                out.append(values.take(index))
                string += 1
            else:
                out.append(packed[name])
        return out


Columns = Callable[[], Sequence[object]]
"""Builds one part's columns in ``TABLES`` order; called on the writer thread
(an empty sequence: no part this time)."""


class HotBuffer(Protocol):
    """One flush window of the hot table, packed (:class:`ColumnBuffer`, or a
    producer's own layout such as the platform's send log)."""

    table: str

    def __len__(self) -> int:
        """Rows held (what the recorder's backlog bound counts)."""
        ...

    def add(self, row: tuple[object, ...]) -> None:
        """Buffer one row of :attr:`table` (the event loop's thread only)."""
        ...

    def columns(self) -> Sequence[object]:
        """The rows as columns in ``TABLES`` order (on the writer thread)."""
        ...


class Batch:
    """One flush window of rows for a writer thread: the hot table columnar, the rest tuples.

    Producers on an event loop fill a batch, swap in a fresh one (atomic on the
    loop) and hand the full one to the single thread that owns the
    :class:`RecordSink`, so neither Arrow nor the disk ever stalls the loop.
    Summaries that would cost the loop a row at a time (thousands of histogram
    buckets each second) are :meth:`defer` red: the loop hands over a snapshot
    and the writer thread builds its columns.
    """

    __slots__ = ("_add_hot", "_hot", "columns", "deferred", "rows")

    def __init__(
        self, hot: str, buffer: Callable[[str], HotBuffer] = ColumnBuffer
    ) -> None:
        self.columns = buffer(hot)
        self.rows: dict[str, list[tuple[object, ...]]] = {
            table: [] for table in TABLES if table != hot
        }
        self._hot = hot
        self._add_hot = self.columns.add
        self.deferred: list[tuple[str, Columns]] = []

    def __len__(self) -> int:
        rows = sum(len(rows) for rows in self.rows.values())
        return len(self.columns) + rows + len(self.deferred)

    def defer(self, table: str, build: Columns) -> None:
        """Write ``build()``'s columns as one part of ``table``, built on the writer thread."""
        self.deferred.append((table, build))

    def add(self, table: str, row: tuple[object, ...]) -> None:
        """Buffer one row (the event loop's thread only)."""
        if table == self._hot:
            self._add_hot(row)
        else:
            self.rows[table].append(row)

    def write(self, records: RecordSink) -> None:
        """Move every row into ``records`` and write them (the writer thread only)."""
        if len(self.columns):
            records.write_columns(self.columns.table, self.columns.columns())
        for table, build in self.deferred:
            columns = build()
            if columns:  # a summary with nothing to say this time
                records.write_columns(table, columns)
        add = records.add
        for table, rows in self.rows.items():
            for row in rows:
                add(table, row)
        records.flush()
