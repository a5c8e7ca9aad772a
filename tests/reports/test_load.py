"""reports.load: typed tables from record parts, whatever is missing."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from harness.errors import ConfigError
from reports.load import COLUMNS, find_parts, load_run, load_table
from tests.reports.helpers import MS, T0, RunBuilder


def test_tables_have_the_needed_columns_and_schema_dtypes(tmp_path: Path) -> None:
    """Big-table strings are categoricals; integers keep their width."""
    build = RunBuilder(tmp_path)
    build.good_stream("MZ1", "req-1")
    run = load_run(build.write())

    for table, columns in COLUMNS.items():
        assert tuple(getattr(run, table).columns) == columns, table
    assert isinstance(run.frames["stream_sid"].dtype, pd.CategoricalDtype)
    assert isinstance(run.sent_frames["track"].dtype, pd.CategoricalDtype)
    assert run.frames["chunk"].dtype == "int64"
    assert run.frames["payload_bytes"].dtype == "int32"
    assert run.frames["jitter_ns"].dtype == "float64"
    assert run.requests["status"].dtype == "int32"
    assert pd.api.types.is_string_dtype(run.requests["request_id"])
    assert run.rows() == {
        "producers": 3,
        "requests": 1,
        "platform_streams": 1,
        "sent_frames": 50,
        "frames": 50,
        "streams": 1,
        "rule_checks": 0,
        "violations": 0,
        "health": 0,
        "histograms": 0,
        "audio_samples": 0,
    }


def test_parts_of_several_flushes_are_concatenated_in_order(tmp_path: Path) -> None:
    build = RunBuilder(tmp_path, batch_rows=7)
    build.media("MZ1", chunks=40)
    root = build.write()

    assert len(find_parts(root, "frames")) > 3
    frames = load_table(root, "frames")
    assert frames["chunk"].tolist() == list(range(1, 41))
    assert frames["stream_sid"].astype(str).unique().tolist() == ["MZ1"]


def test_a_missing_table_is_an_empty_frame_with_the_right_columns(
    tmp_path: Path,
) -> None:
    build = RunBuilder(tmp_path)
    build.request("req-1")
    run = load_run(build.write())

    assert run.frames.empty
    assert tuple(run.frames.columns) == COLUMNS["frames"]
    assert run.frames["arrival_ns"].dtype == "int64"
    assert isinstance(run.frames["stream_sid"].dtype, pd.CategoricalDtype)
    assert run.violations.empty


def test_columns_absent_from_an_older_part_read_as_zero_or_empty(
    tmp_path: Path,
) -> None:
    """A producer that wrote fewer columns does not break the report."""
    directory = tmp_path / "records" / "requests"
    directory.mkdir(parents=True)
    table = pa.table({"request_id": ["req-1"], "sent_ns": pa.array([T0], pa.int64())})
    pq.write_table(table, directory / "old-000001.parquet")
    (directory / "old-000002.tmp").write_bytes(b"half a file")

    requests = load_table(tmp_path, "requests")

    assert requests["request_id"].tolist() == ["req-1"]
    assert requests["sent_ns"].tolist() == [T0]
    assert requests["status"].tolist() == [0]
    assert requests["status"].dtype == "int32"
    assert requests["stream_sid"].tolist() == [""]


def test_nulls_become_zero_or_empty(tmp_path: Path) -> None:
    build = RunBuilder(tmp_path)
    build.scenario.add(
        "requests",
        (
            "run-1",
            "req-1",
            "start",
            None,
            "PCMU",
            None,
            0,
            T0,
            T0,
            None,
            None,
            None,
            None,
        ),
    )
    run = load_run(build.write())

    row = run.requests.iloc[0]
    assert (row["done_ns"], row["status"], row["stream_sid"]) == (0, 0, "")
    assert run.requests["done_ns"].dtype == "int64"
    assert T0 + MS > row["sent_ns"]


def test_a_path_that_is_not_a_directory_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        load_run(tmp_path / "nope")
    assert str(raised.value) == (
        f"RUN_DIR: {str(tmp_path / 'nope')!r} is not a directory; "
        "pass the directory a streamload run wrote"
    )


def test_a_directory_without_records_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "records" / "frames").mkdir(parents=True)
    with pytest.raises(ConfigError) as raised:
        load_run(tmp_path)
    assert str(raised.value) == (
        f"RUN_DIR: no records/<table>/*.parquet under {str(tmp_path)!r}; "
        "pass the directory a streamload run wrote (it holds records/)"
    )
