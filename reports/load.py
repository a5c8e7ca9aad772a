"""Read a run directory's record parts (the I/O edge of reports).

Each table in :data:`harness.core.records.TABLES` is a folder of Parquet parts written
by several producers. We read only the columns the reports use, with the dtypes
the schema names: missing integers as 0 and missing strings as "", the
repetitive strings of tables that grow with the run as categoricals (Parquet
dictionaries). The tables with a row per frame (``frames``, ``sent_frames``,
``audio_samples``) grow with the run's length, so they stay on disk as
:class:`Parts`, read a batch at a time; the others are DataFrames. A table that
is absent or has no parts is empty with the right columns, because any producer
may be missing (a real platform writes no send log).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Final, cast

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from harness.core.clocks import INSTANTS, ClockPlan, plan, producer_of_part, to_common
from harness.core.errors import ConfigError
from harness.core.records import TABLES, ColumnType


__all__ = [
    "COLUMNS",
    "LAZY",
    "BadPart",
    "Parts",
    "RecordsError",
    "Run",
    "check_parts",
    "find_parts",
    "load_run",
    "load_table",
]

COLUMNS: Final[dict[str, tuple[str, ...]]] = {
    "producers": ("producer", "kind", "host", "wall_ns", "mono_ns"),
    "requests": (
        "run_id",
        "request_id",
        "kind",
        "codec",
        "track",
        "due_ns",
        "sent_ns",
        "done_ns",
        "status",
        "stream_sid",
        "error",
        "params",
        "correlation",
        "account_sid",
    ),
    "platform_streams": (
        "stream_sid",
        "request_id",
        "codec",
        "track",
        "first_due_ns",
        "frames_sent",
        "end_reason",
        "error",
    ),
    "sent_frames": ("stream_sid", "track", "chunk", "due_ns", "sent_ns"),
    "frames": (
        "stream_sid",
        "track",
        "chunk",
        "arrival_ns",
        "payload_bytes",
        "jitter_ns",
    ),
    "streams": (
        "stream_sid",
        "run_id",
        "request_id",
        "codec",
        "track",
        "start_ns",
        "first_media_ns",
        "stop_ns",
        "closed_ns",
        "frames",
        "payload_bytes",
        "tracks",
        "media_format",
        "params",
        "correlation",
        "account_sid",
    ),
    "rule_checks": ("source", "subject", "rule", "checks", "failures", "reading"),
    "violations": ("source", "rule", "subject", "seq", "expected", "actual", "at_ns"),
    "health": (
        "producer",
        "kind",
        "at_ns",
        "interval_ns",
        "cpu_ns",
        "loop_cpu_ns",
        "lag_samples",
        "lag_p99_ns",
        "lag_max_ns",
        "gc_pauses",
        "gc_total_ns",
        "gc_max_ns",
        "rss_bytes",
    ),
    "histograms": ("producer", "metric", "codec", "track", "bucket", "count"),
    "audio_samples": ("stream_sid", "track", "chunk", "codec", "payload"),
}
"""The columns each table contributes to a report; nothing else is read."""

LAZY: Final = frozenset({"frames", "sent_frames", "audio_samples"})
"""Tables with a row per frame (or per sampled frame): read as :class:`Parts`."""

_CATEGORICAL: Final[dict[str, frozenset[str]]] = {
    "requests": frozenset({"params"}),  # one value per matrix cell: KBs each
    "streams": frozenset({"params"}),
    "sent_frames": frozenset({"stream_sid", "track"}),
    "frames": frozenset({"stream_sid", "track"}),
    "rule_checks": frozenset({"source", "rule", "reading"}),
    "histograms": frozenset({"producer", "metric", "codec", "track"}),
}
"""Low-cardinality strings in tables that grow with the run: read as dictionaries."""

_ARROW: Final[dict[ColumnType, pa.DataType]] = {
    "int64": pa.int64(),
    "int32": pa.int32(),
    "float64": pa.float64(),
    "string": pa.string(),
    "bool": pa.bool_(),
    "binary": pa.binary(),
}
_FILL: Final[dict[ColumnType, object]] = {
    "int64": 0,
    "int32": 0,
    "float64": float("nan"),
    "string": "",
    "bool": False,
    "binary": b"",
}
_BATCH_ROWS: Final = 1 << 17
"""Rows per batch by default: the dataset scanner's own default."""
_FIELDS: Final = {"audio_samples": "audio"}
"""Tables kept in a :class:`Run` field of another name."""


@dataclasses.dataclass(frozen=True, slots=True)
class BadPart:
    """A record part the report could not use: which file and why.

    A bad part is left out; the rows it held are missing from every table, so
    a report built without it is *incomplete* (exit 3), never a verdict on the
    platform.
    """

    path: Path
    table: str
    problem: str

    def __str__(self) -> str:
        return f"{self.path}: {self.problem}"


class RecordsError(Exception):
    """A record part failed while its rows were being read (after the footer check).

    Carries the :class:`BadPart`; the report's command line names the file
    and exits 3 (incomplete records) instead of printing a traceback.
    """

    def __init__(self, bad: BadPart) -> None:
        super().__init__(str(bad))
        self.bad = bad


_SAFE_CASTS: Final[dict[ColumnType, tuple[pa.DataType, ...]]] = {
    "int64": (
        pa.int8(),
        pa.int16(),
        pa.int32(),
        pa.int64(),
        pa.uint8(),
        pa.uint16(),
        pa.uint32(),
        pa.null(),
    ),
    "int32": (pa.int8(), pa.int16(), pa.int32(), pa.uint8(), pa.uint16(), pa.null()),
    "float64": (
        pa.float16(),
        pa.float32(),
        pa.float64(),
        pa.int8(),
        pa.int16(),
        pa.int32(),
        pa.null(),
    ),
    "string": (pa.string(), pa.large_string(), pa.null()),
    "bool": (pa.bool_(), pa.null()),
    "binary": (pa.binary(), pa.large_binary(), pa.null()),
}
"""Stored types a column may have and still be read as the schema's type
without losing a value: narrower integers and floats are widened; anything
else (a string where a number belongs) rejects the part."""


def _stored_type(field: pa.Field) -> pa.DataType:
    kind = field.type
    return kind.value_type if pa.types.is_dictionary(kind) else kind


def check_parts(table: str, paths: Sequence[Path]) -> tuple[list[Path], list[BadPart]]:
    """Split ``paths`` into the parts that can be read and the ones that cannot.

    Reads only each part's footer (its schema and row counts): a truncated or
    corrupt file has none, and a part whose columns have the wrong types (or
    none of the table's columns) would be read as garbage or fail mid-report.
    """
    good: list[Path] = []
    bad: list[BadPart] = []
    kinds = dict(TABLES[table])
    for path in paths:
        try:
            schema = pq.read_schema(path)
        except (OSError, pa.ArrowException) as exc:
            bad.append(BadPart(path, table, f"not a readable Parquet file ({exc})"))
            continue
        names = set(schema.names)
        wrong = [
            f"{name} is {_stored_type(schema.field(name))}, not {kinds[name]}"
            for name in COLUMNS[table]
            if name in names
            and _stored_type(schema.field(name)) not in _SAFE_CASTS[kinds[name]]
        ]
        if not names & set(kinds):
            wrong.append(
                f"none of the {table} columns ({', '.join(COLUMNS[table][:3])}, ...)"
            )
        if wrong:
            bad.append(
                BadPart(path, table, f"wrong schema for {table}: " + "; ".join(wrong))
            )
        else:
            good.append(path)
    return good, bad


@dataclasses.dataclass(frozen=True)
class Parts:
    """A table with a row per frame, left in its Parquet parts: read a batch at a time.

    ``sids`` keeps only the rows of those streams (a capacity level's window);
    ``None`` keeps every row.
    """

    table: str
    paths: tuple[Path, ...]
    sids: frozenset[str] | None = None
    known_rows: int | None = dataclasses.field(default=None, compare=False)
    """Rows after the filter, when a pass already counted them (no re-read)."""
    known_bounds: dict[str, tuple[int, int] | None] | None = dataclasses.field(
        default=None, compare=False
    )
    """Column -> :meth:`bounds`, when a pass already found them (no re-read)."""
    clock: ClockPlan = dataclasses.field(default_factory=ClockPlan, compare=False)
    """Moves each part's instants to the run's common clock (:mod:`harness.core.clocks`)."""

    def __len__(self) -> int:
        return self._rows if self.known_rows is None else self.known_rows

    @property
    def stored_rows(self) -> int:
        """Rows in the parts, before any stream filter (from their footers)."""
        return sum(meta.num_rows for meta in self._metadata)

    @functools.cached_property
    def _metadata(self) -> list[pq.FileMetaData]:
        out = []
        for path in self.paths:
            try:
                out.append(pq.ParquetFile(path).metadata)
            except (OSError, pa.ArrowException) as exc:
                raise RecordsError(
                    BadPart(path, self.table, f"not a readable Parquet file ({exc})")
                ) from None
        return out

    @functools.cached_property
    def _rows(self) -> int:
        if self.sids is None:
            return self.stored_rows
        return sum(b.num_rows for b in self.batches(["stream_sid"], 1 << 20))

    def where_sids(self, sids: Iterable[str]) -> Parts:
        """Only the rows of streams in ``sids`` (and in this table's own filter)."""
        keep = frozenset(sids)
        if self.sids is not None:
            keep &= self.sids
        return Parts(self.table, self.paths, keep, clock=self.clock)

    def batches(
        self, columns: Sequence[str] | None = None, batch_rows: int = _BATCH_ROWS
    ) -> Iterator[pa.RecordBatch]:
        """The rows in part order, at most ``batch_rows`` at a time, nulls filled.

        One row group is decoded at a time and no batch spans two, so memory
        stays bounded whatever the run's length. Columns are named as in
        :data:`COLUMNS`, typed as :func:`load_table` reads them.
        """
        names = list(columns or COLUMNS[self.table])
        read = (
            names
            if self.sids is None or "stream_sid" in names
            else [*names, "stream_sid"]
        )
        schema = _schema(self.table)
        categorical = sorted(_CATEGORICAL.get(self.table, frozenset()) & set(read))
        for path, meta in zip(self.paths, self._metadata, strict=True):
            stored = set(meta.schema.names)
            file = pq.ParquetFile(
                path,
                metadata=meta,
                read_dictionary=[n for n in categorical if n in stored],
            )
            present = [n for n in read if n in stored]
            for group in range(meta.num_row_groups):
                try:
                    batches = list(
                        file.iter_batches(
                            batch_size=batch_rows, row_groups=[group], columns=present
                        )
                    )
                except (OSError, pa.ArrowException) as exc:
                    raise RecordsError(
                        BadPart(
                            path, self.table, f"row group {group} unreadable ({exc})"
                        )
                    ) from None
                shift = self.clock.offset(producer_of_part(path.name))
                for batch in batches:
                    data = _conform(batch, read, schema)
                    if self.sids is not None:
                        data = data.filter(_among(data.column("stream_sid"), self.sids))
                        data = data.select(names)
                    if data.num_rows:
                        yield _shifted(self.table, _filled(self.table, data), shift)

    def bounds(self, column: str) -> tuple[int, int] | None:
        """The least and greatest positive value of an integer column (``None``: none).

        Parquet keeps exact integer statistics per row group, so an unfiltered
        table whose row groups hold only positive values is answered from the
        footers; otherwise the column is read.
        """
        if self.known_bounds is not None and column in self.known_bounds:
            return self.known_bounds[column]
        if self.sids is None and self.clock.aligned:
            return self._shifted_bounds(column)
        if self.sids is None:
            stored = self.stored_range(column)
            if stored is not None and stored[0] >= 1:
                return stored
        return self._scan_bounds(column)

    def _scan_bounds(self, column: str) -> tuple[int, int] | None:
        """:meth:`bounds` by reading the column."""
        low: int | None = None
        high: int | None = None
        for batch in self.batches([column], 1 << 20):
            values = batch.column(0).to_numpy()
            values = values[values > 0]
            if values.size:
                lo, hi = int(values.min()), int(values.max())
                low = lo if low is None else min(low, lo)
                high = hi if high is None else max(high, hi)
        return None if low is None or high is None else (low, high)

    def _shifted_bounds(self, column: str) -> tuple[int, int] | None:
        """:meth:`bounds` on the common clock: each part's footer range, moved by
        its producer's shift (read only where a footer does not tell)."""
        moves = column in INSTANTS.get(self.table, frozenset())
        low: int | None = None
        high: int | None = None
        for path, meta in zip(self.paths, self._metadata, strict=True):
            stored = _footer_range([meta], column)
            if stored is not None and stored[0] < 1:
                stored = None
            if stored is None:
                found = Parts(self.table, (path,), clock=self.clock)._scan_bounds(
                    column
                )
                if found is None:
                    continue
                lo, hi = found
            else:
                shift = self.clock.offset(producer_of_part(path.name)) if moves else 0
                lo, hi = stored[0] + (shift or 0), stored[1] + (shift or 0)
            low = lo if low is None else min(low, lo)
            high = hi if high is None else max(high, hi)
        return None if low is None or high is None else (low, high)

    def stored_range(self, column: str) -> tuple[int, int] | None:
        """Least and greatest value of an integer column in the parts, from their
        footers, before any stream filter (``None``: not known there)."""
        return _footer_range(self._metadata, column)

    def to_pandas(self) -> pd.DataFrame:
        """The whole table as a DataFrame, as :func:`load_table` reads it (small runs)."""
        return _read_table(self.paths, self.table, self.sids, self.clock)


@dataclasses.dataclass(frozen=True)
class Run:
    """One run's records: a DataFrame per table, :class:`Parts` for the per-frame ones."""

    run_dir: Path
    producers: pd.DataFrame
    requests: pd.DataFrame
    platform_streams: pd.DataFrame
    sent_frames: Parts
    frames: Parts
    streams: pd.DataFrame
    rule_checks: pd.DataFrame
    violations: pd.DataFrame
    health: pd.DataFrame
    histograms: pd.DataFrame
    audio: Parts
    """``audio_samples`` (payloads stay Arrow binary buffers, never Python bytes)."""
    clock: ClockPlan = dataclasses.field(default_factory=ClockPlan)
    """How times of different producers compare (:mod:`harness.core.clocks`): with
    records of several hosts, every instant above is already on the wall clock."""
    bad_parts: tuple[BadPart, ...] = ()
    """Parts left out because they could not be read (:func:`check_parts`): the
    records are incomplete when this is not empty."""

    def rows(self) -> dict[str, int]:
        """Row count per table, for the report's run section."""
        return {name: len(getattr(self, _FIELDS.get(name, name))) for name in COLUMNS}


def find_parts(run_dir: Path, table: str) -> list[Path]:
    """The Parquet parts of ``table``, in name order (producer, then part number)."""
    directory = Path(run_dir) / "records" / table
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.glob("*.parquet") if p.is_file())


def _schema(table: str) -> pa.Schema:
    """The needed columns of ``table`` as read: schema types, dictionaries for strings
    that repeat."""
    kinds = dict(TABLES[table])
    categorical = _CATEGORICAL.get(table, frozenset())
    return pa.schema(
        [
            pa.field(
                name,
                pa.dictionary(pa.int32(), pa.string())
                if name in categorical
                else _ARROW[kinds[name]],
            )
            for name in COLUMNS[table]
        ]
    )


def _dataset(parts: Sequence[Path], table: str) -> ds.Dataset | None:
    """The parts as one dataset, in the given (name) order, which reads keep."""
    if not parts:
        return None
    categorical = _CATEGORICAL.get(table, frozenset())
    fmt = ds.ParquetFileFormat(
        read_options=ds.ParquetReadOptions(dictionary_columns=sorted(categorical))
    )
    return ds.dataset([str(p) for p in parts], schema=_schema(table), format=fmt)


def _among(sids: pa.Array, keep: frozenset[str]) -> pa.Array:
    """Which rows of a (dictionary or string) sid column are in ``keep``."""
    wanted = pa.array(sorted(keep), pa.string())
    if pa.types.is_dictionary(sids.type):
        member = pc.is_in(sids.dictionary, value_set=wanted).to_numpy(
            zero_copy_only=False
        )
        indices = sids.indices.fill_null(len(member)).to_numpy()
        return pa.array(np.append(member, False)[indices])
    return pc.fill_null(pc.is_in(sids, value_set=wanted), False)


def _conform(
    batch: pa.RecordBatch, names: Sequence[str], schema: pa.Schema
) -> pa.RecordBatch:
    """``batch`` with ``names`` in order and the schema's types; absent ones null."""
    columns = []
    for name in names:
        kind = schema.field(name).type
        if name in batch.schema.names:
            column = batch.column(name)
            columns.append(column if column.type == kind else column.cast(kind))
        else:
            columns.append(pa.nulls(batch.num_rows, kind))
    return pa.RecordBatch.from_arrays(columns, names=list(names))


def _filled(table: str, batch: pa.RecordBatch) -> pa.RecordBatch:
    """``batch`` with the schema's fill values for nulls (categoricals keep theirs)."""
    kinds = dict(TABLES[table])
    categorical = _CATEGORICAL.get(table, frozenset())
    columns = batch.columns
    nulls = [
        i
        for i, name in enumerate(batch.schema.names)
        if name not in categorical and columns[i].null_count
    ]
    if not nulls:
        return batch
    for i in nulls:
        kind = kinds[batch.schema.names[i]]
        columns[i] = pc.fill_null(columns[i], _FILL[kind])
    return pa.RecordBatch.from_arrays(columns, names=batch.schema.names)


def _shifted(table: str, batch: pa.RecordBatch, shift: int | None) -> pa.RecordBatch:
    """``batch`` (of one part) with its instants moved by ``shift`` (``None``: the
    producer has no anchor; its times stay as stored, see :class:`ClockPlan`)."""
    instants = INSTANTS.get(table, frozenset())
    if not shift or not instants & set(batch.schema.names):
        return batch
    columns = [
        pa.array(to_common(column.to_numpy(), shift)) if name in instants else column
        for name, column in zip(batch.schema.names, batch.columns, strict=True)
    ]
    return pa.RecordBatch.from_arrays(columns, names=batch.schema.names)


def _shift_table(table: str, data: pa.Table, clock: ClockPlan) -> pa.Table:
    """``data`` read with a trailing ``__filename`` column: each row's instants
    moved by its part's producer's shift, and that column dropped.

    One shift per part, taken per row through the file-name dictionary, and one
    vectorised add per instant column: no loop over rows.
    """
    files = data.column("__filename").combine_chunks().dictionary_encode()
    data = data.drop_columns(["__filename"])
    shifts = np.array(
        [
            clock.offset(producer_of_part(Path(str(name)).name)) or 0
            for name in files.dictionary.to_pylist()
        ],
        np.int64,
    )
    per_row = shifts[files.indices.to_numpy()]
    for name in INSTANTS.get(table, frozenset()) & set(data.column_names):
        i = data.column_names.index(name)
        values = data.column(i).to_numpy()
        moved = np.where(values > 0, values + per_row, values)
        data = data.set_column(i, name, pa.array(moved))
    return data


def _footer_range(
    metadata: Sequence[pq.FileMetaData], column: str
) -> tuple[int, int] | None:
    """Least and greatest value of an integer column from row-group statistics.

    Nulls and parts without the column count as the 0 they read as. ``None``
    when a row group has no statistics, or there are no rows.
    """
    low: int | None = None
    high: int | None = None

    def see(lo: int, hi: int) -> None:
        nonlocal low, high
        low = lo if low is None else min(low, lo)
        high = hi if high is None else max(high, hi)

    for meta in metadata:
        names = [meta.schema.column(i).name for i in range(meta.num_columns)]
        if column not in names:
            if meta.num_rows:
                see(0, 0)
            continue
        index = names.index(column)
        for g in range(meta.num_row_groups):
            chunk = meta.row_group(g).column(index)
            stats = chunk.statistics
            if not chunk.num_values:
                continue
            if stats is None or not stats.has_null_count:
                return None
            if stats.null_count:
                see(0, 0)
            if stats.has_min_max:
                see(int(stats.min), int(stats.max))
            elif stats.null_count != chunk.num_values:
                return None
    return None if low is None or high is None else (low, high)


def load_table(run_dir: Path, table: str) -> pd.DataFrame:
    """Read one table's needed columns with schema dtypes; empty frame if absent."""
    return _read_table(find_parts(run_dir, table), table)


def _read_table(
    parts: Sequence[Path],
    table: str,
    sids: frozenset[str] | None = None,
    clock: ClockPlan | None = None,
) -> pd.DataFrame:
    """:func:`load_table` of these parts, optionally only the rows of ``sids``,
    instants on ``clock``'s common clock."""
    dataset = _dataset(parts, table)
    if dataset is None:
        return _frame(table, _schema(table).empty_table())
    shifting = (
        clock is not None
        and clock.aligned
        and bool(INSTANTS.get(table, frozenset()) & set(COLUMNS[table]))
    )
    names = [*COLUMNS[table], *(["__filename"] if shifting else [])]
    try:
        data = dataset.to_table(columns=names)
    except (OSError, pa.ArrowException) as exc:
        # the footers were fine (check_parts), a row group was not: find its file
        raise RecordsError(_culprit(parts, table, exc)) from None
    if sids is not None:
        mask = pa.chunked_array(
            [_among(chunk, sids) for chunk in data.column("stream_sid").chunks],
            pa.bool_(),
        )
        data = data.filter(mask)
    if shifting and clock is not None:
        data = _shift_table(table, _filled_table(table, data), clock)
    return _frame(table, data)


def _filled_table(table: str, data: pa.Table) -> pa.Table:
    """``data``'s instant columns with nulls as 0 (none), before they move."""
    for name in INSTANTS.get(table, frozenset()) & set(data.column_names):
        i = data.column_names.index(name)
        if data.column(i).null_count:
            data = data.set_column(i, name, pc.fill_null(data.column(i), 0))
    return data


def _culprit(parts: Sequence[Path], table: str, exc: Exception) -> BadPart:
    """The first part of ``parts`` whose rows cannot be decoded (reads each alone)."""
    for path in parts:
        try:
            pq.read_table(path)
        except (OSError, pa.ArrowException) as own:
            return BadPart(path, table, f"rows unreadable ({own})")
    return BadPart(parts[0].parent, table, f"parts unreadable together ({exc})")


def _frame(table: str, data: pa.Table) -> pd.DataFrame:
    """Arrow -> pandas with the schema's fill values for nulls (``data`` is consumed)."""
    kinds = dict(TABLES[table])
    names = COLUMNS[table]
    categorical = _CATEGORICAL.get(table, frozenset())
    for i, name in enumerate(names):
        if name in categorical or data.column(i).null_count == 0:
            continue
        data = data.set_column(
            i, name, pc.fill_null(data.column(i), _FILL[kinds[name]])
        )
    # self_destruct frees each Arrow column as it converts: peak memory stays
    # near one copy of the table instead of two.
    frame = cast(pd.DataFrame, data.to_pandas(split_blocks=True, self_destruct=True))
    del data
    pa.default_memory_pool().release_unused()
    for name in names:
        if name in categorical and not isinstance(
            frame[name].dtype, pd.CategoricalDtype
        ):
            frame[name] = frame[name].astype("category")
    return frame


def load_run(run_dir: Path | str, exclude: Iterable[BadPart] = ()) -> Run:
    """Load every table of ``run_dir``, leaving out the parts that cannot be read.

    A part whose footer is unreadable (a truncated file) or whose columns have
    the wrong types is not read: it is listed in :attr:`Run.bad_parts`, as are
    ``exclude`` (parts that failed later, mid-read: see :class:`RecordsError`).

    Raises:
        ConfigError: ``run_dir`` is not a directory or holds no record parts.
    """
    root = Path(run_dir)
    if not root.is_dir():
        raise ConfigError(
            "RUN_DIR",
            f"{str(root)!r} is not a directory",
            "pass the directory a streamload run wrote",
        )
    if not any(find_parts(root, table) for table in TABLES):
        raise ConfigError(
            "RUN_DIR",
            f"no records/<table>/*.parquet under {str(root)!r}",
            "pass the directory a streamload run wrote (it holds records/)",
        )
    tables: dict[str, Any] = {}
    bad = list(exclude)
    skip = {b.path for b in bad}
    found: dict[str, list[Path]] = {}
    for name in COLUMNS:
        paths = [p for p in find_parts(root, name) if p not in skip]
        found[name], rejected = check_parts(name, paths)
        bad += rejected
    producers = _read_table(found["producers"], "producers")
    clock = _clock_plan(producers, found)
    for name, good in found.items():
        tables[_FIELDS.get(name, name)] = (
            Parts(name, tuple(good), clock=clock)
            if name in LAZY
            else producers
            if name == "producers"
            else _read_table(good, name, clock=clock)
        )
    return Run(run_dir=root, **tables, bad_parts=tuple(bad), clock=clock)


def _clock_plan(producers: pd.DataFrame, parts: dict[str, list[Path]]) -> ClockPlan:
    """The run's :class:`ClockPlan`: its anchors, and who wrote parts with instants."""
    anchors = zip(
        producers["producer"].astype(str),
        producers["host"].astype(str),
        producers["wall_ns"].astype("int64"),
        producers["mono_ns"].astype("int64"),
        strict=True,
    )
    writers = {
        producer_of_part(path.name) or path.name
        for table, paths in parts.items()
        if INSTANTS.get(table)
        for path in paths
    }
    return plan(
        ((p, h, int(w), int(m)) for p, h, w, m in anchors),
        writers,
    )
