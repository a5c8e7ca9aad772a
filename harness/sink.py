"""Append-only record files, written in batches (an I/O edge of the core).

Rows are tuples in the column order of :data:`harness.records.TABLES`. Each
flush writes one Parquet file per table to a temporary name and renames it into
place, so readers never see half a file and a crash loses at most the rows not
yet flushed.
"""

from __future__ import annotations

import itertools
import os
import socket
import time
from array import array
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from harness.checks_io import checker_rows
from harness.records import TABLES, MemorySink, RowSink
from harness.rules import Checker


__all__ = [
    "MemorySink",
    "RecordSink",
    "RowSink",
]  # the first and last re-exported from records

_ARROW_TYPES = {
    "int64": pa.int64(),
    "int32": pa.int32(),
    "float64": pa.float64(),
    "string": pa.string(),
    "bool": pa.bool_(),
    "binary": pa.binary(),
}


class RecordSink:
    """Buffer rows per table and write them as Parquet parts under ``run_dir/records``."""

    def __init__(
        self, run_dir: Path, producer: str, kind: str, *, batch_rows: int = 50_000
    ) -> None:
        self.root = Path(run_dir) / "records"
        self.producer = producer
        self.batch_rows = batch_rows
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
        pq.write_table(
            pa.Table.from_arrays(data, schema=schema), tmp, compression="zstd"
        )
        os.replace(tmp, final)


def interned_strings(names: dict[str, int], index: array[int]) -> pa.Array:
    """Rebuild a string column from a name->number table and an ``array('i')`` of numbers.

    Hot-path producers store each repeated string (stream sid, track) once and
    append only its int32 number per row; this turns them back into one Arrow
    column in a single vectorised ``take`` on the writer thread.
    """
    return pa.array(list(names), pa.string()).take(np.frombuffer(index, dtype=np.int32))
