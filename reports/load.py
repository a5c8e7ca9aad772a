"""Read a run directory's record parts into typed DataFrames (the I/O edge of reports).

Each table in :data:`harness.records.TABLES` is a folder of Parquet parts written
by several producers. We read only the columns the reports use, with the dtypes
the schema names, so a 60M-frame run fits in memory: the repetitive string
columns of the big per-frame tables come back as categoricals (Parquet
dictionaries), missing integers as 0 and missing strings as "". A table that is
absent or has no parts is an empty frame with the right columns, because any
producer may be missing (a real platform writes no send log).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Final, cast

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from harness.errors import ConfigError
from harness.records import TABLES, ColumnType


__all__ = ["COLUMNS", "Run", "find_parts", "load_run", "load_table"]

COLUMNS: Final[dict[str, tuple[str, ...]]] = {
    "producers": ("producer", "kind", "host"),
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
    ),
    "platform_streams": (
        "stream_sid",
        "request_id",
        "codec",
        "track",
        "first_due_ns",
        "frames_sent",
        "end_reason",
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
}
"""The columns each table contributes to a report; nothing else is read."""

_CATEGORICAL: Final[dict[str, frozenset[str]]] = {
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
}
_FILL: Final[dict[ColumnType, object]] = {
    "int64": 0,
    "int32": 0,
    "float64": float("nan"),
    "string": "",
    "bool": False,
}


@dataclasses.dataclass(frozen=True)
class Run:
    """One run's records, a DataFrame per table (columns as in :data:`COLUMNS`)."""

    run_dir: Path
    producers: pd.DataFrame
    requests: pd.DataFrame
    platform_streams: pd.DataFrame
    sent_frames: pd.DataFrame
    frames: pd.DataFrame
    streams: pd.DataFrame
    rule_checks: pd.DataFrame
    violations: pd.DataFrame
    health: pd.DataFrame
    histograms: pd.DataFrame
    audio: pa.Table
    """``audio_samples`` as Arrow (payloads stay one binary buffer, never Python bytes)."""

    def rows(self) -> dict[str, int]:
        """Row count per table, for the report's run section."""
        counts = {name: len(getattr(self, name)) for name in COLUMNS}
        counts["audio_samples"] = self.audio.num_rows
        return counts


def find_parts(run_dir: Path, table: str) -> list[Path]:
    """The Parquet parts of ``table``, in name order (producer, then part number)."""
    directory = Path(run_dir) / "records" / table
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.glob("*.parquet") if p.is_file())


def load_table(run_dir: Path, table: str) -> pd.DataFrame:
    """Read one table's needed columns with schema dtypes; empty frame if absent."""
    kinds = dict(TABLES[table])
    names = COLUMNS[table]
    categorical = _CATEGORICAL.get(table, frozenset())
    fields = [
        pa.field(
            name,
            pa.dictionary(pa.int32(), pa.string())
            if name in categorical
            else _ARROW[kinds[name]],
        )
        for name in names
    ]
    schema = pa.schema(fields)
    parts = find_parts(run_dir, table)
    if parts:
        fmt = ds.ParquetFileFormat(
            read_options=ds.ParquetReadOptions(dictionary_columns=sorted(categorical))
        )
        dataset = ds.dataset([str(p) for p in parts], schema=schema, format=fmt)
        data = dataset.to_table(columns=list(names))
    else:
        data = schema.empty_table()
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


def load_run(run_dir: Path | str) -> Run:
    """Load every table of ``run_dir``.

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
    tables = {name: load_table(root, name) for name in COLUMNS}
    return Run(run_dir=root, audio=load_audio(root), **tables)


def load_audio(run_dir: Path) -> pa.Table:
    """The ``audio_samples`` table as Arrow (empty with its schema when absent).

    One 20 ms payload a second per track: 1.2 M rows for a 60 M-frame run,
    kept as Arrow binary so the audio check slices the buffers with numpy.
    """
    schema = pa.schema(
        [
            ("stream_sid", pa.string()),
            ("track", pa.string()),
            ("chunk", pa.int64()),
            ("codec", pa.string()),
            ("payload", pa.binary()),
        ]
    )
    parts = find_parts(run_dir, "audio_samples")
    if not parts:
        return schema.empty_table()
    dataset = ds.dataset([str(p) for p in parts], schema=schema, format="parquet")
    return dataset.to_table()
