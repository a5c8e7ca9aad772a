"""reports.load: typed tables from record parts, whatever is missing."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from harness.core.errors import ConfigError
from reports.__main__ import main
from reports.load import COLUMNS, LAZY, Parts, find_parts, load_run, load_table
from tests.reports.conftest import build_passing
from tests.reports.helpers import MS, T0, RunBuilder


def test_tables_have_the_needed_columns_and_schema_dtypes(tmp_path: Path) -> None:
    """Big-table strings are categoricals; integers keep their width."""
    build = RunBuilder(tmp_path)
    build.good_stream("MZ1", "req-1")
    run = load_run(build.write())

    for table, columns in COLUMNS.items():
        data = getattr(run, "audio" if table == "audio_samples" else table)
        if table in LAZY:
            assert isinstance(data, Parts) and data.table == table
            data = data.to_pandas()
        assert tuple(data.columns) == columns, table
    frames = run.frames.to_pandas()
    assert isinstance(frames["stream_sid"].dtype, pd.CategoricalDtype)
    assert isinstance(run.sent_frames.to_pandas()["track"].dtype, pd.CategoricalDtype)
    assert frames["chunk"].dtype == "int64"
    assert frames["payload_bytes"].dtype == "int32"
    assert frames["jitter_ns"].dtype == "float64"
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

    assert len(run.frames) == 0 and run.frames.bounds("arrival_ns") is None
    assert list(run.frames.batches()) == []
    frames = run.frames.to_pandas()
    assert frames.empty
    assert tuple(frames.columns) == COLUMNS["frames"]
    assert frames["arrival_ns"].dtype == "int64"
    assert isinstance(frames["stream_sid"].dtype, pd.CategoricalDtype)
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


def test_parts_are_read_a_batch_at_a_time_in_part_order(tmp_path: Path) -> None:
    build = RunBuilder(tmp_path, batch_rows=7)
    build.media("MZ1", chunks=40)
    run = load_run(build.write())

    batches = list(run.frames.batches(["chunk", "stream_sid"], batch_rows=3))
    assert max(b.num_rows for b in batches) == 3
    chunks = [c for b in batches for c in b.column("chunk").to_pylist()]
    assert chunks == list(range(1, 41))
    assert pa.types.is_dictionary(batches[0].column("stream_sid").type)
    assert len(run.frames) == 40 == run.frames.stored_rows


def test_parts_filtered_to_some_streams(tmp_path: Path) -> None:
    build = RunBuilder(tmp_path, batch_rows=5)
    build.media("MZ1", chunks=10, first_ns=T0)
    build.media("MZ2", chunks=4, first_ns=T0 + 1000 * MS)
    run = load_run(build.write())

    mz2 = run.frames.where_sids({"MZ2", "MZ9"})
    assert len(mz2) == 4 and mz2.stored_rows == 14
    assert mz2.where_sids({"MZ1"}).sids == frozenset()
    assert len(mz2.where_sids({"MZ1"})) == 0
    frame = mz2.to_pandas()
    assert frame["stream_sid"].astype(str).unique().tolist() == ["MZ2"]
    assert [c for b in mz2.batches(["chunk"]) for c in b.column(0).to_pylist()] == [
        1,
        2,
        3,
        4,
    ]
    assert mz2.bounds("arrival_ns") == (T0 + 1000 * MS + MS, T0 + 1060 * MS + MS)


def test_bounds_come_from_the_footers_when_they_can(tmp_path: Path) -> None:
    build = RunBuilder(tmp_path, batch_rows=5)
    build.media("MZ1", chunks=12)
    run = load_run(build.write())

    expected = (T0 + 120 * MS + MS, T0 + 120 * MS + 11 * 20 * MS + MS)
    assert run.frames.bounds("arrival_ns") == expected
    assert run.frames.stored_range("arrival_ns") == expected
    assert run.frames.stored_range("chunk") == (1, 12)
    # a part without the column reads as 0s: the footers no longer answer
    older = tmp_path / "records" / "frames" / "old-000001.parquet"
    pq.write_table(pa.table({"chunk": pa.array([3], pa.int64())}), older)
    run = load_run(tmp_path)
    assert run.frames.stored_range("arrival_ns") == (0, expected[1])
    assert run.frames.bounds("arrival_ns") == expected  # read: only positives


def test_a_part_without_some_columns_reads_them_as_zero_or_empty(
    tmp_path: Path,
) -> None:
    directory = tmp_path / "records" / "frames"
    directory.mkdir(parents=True)
    table = pa.table({"chunk": pa.array([1, 2], pa.int64())})
    pq.write_table(table, directory / "old-000001.parquet")
    frames = load_run(tmp_path).frames

    (batch,) = list(frames.batches())
    assert batch.schema.names == list(COLUMNS["frames"])
    assert batch.column("arrival_ns").to_pylist() == [0, 0]
    assert batch.column("payload_bytes").type == pa.int32()
    assert batch.column("stream_sid").null_count == 2  # categoricals keep nulls


# -- parts that cannot be read (issue 13, item 6) ------------------------------


def _damaged(root: Path) -> tuple[Path, Path]:
    """A passing run with its frames part truncated and a streams part of the wrong schema."""
    run_dir = build_passing(root)
    (frames,) = (run_dir / "records" / "frames").glob("*.parquet")
    data = frames.read_bytes()
    frames.write_bytes(data[: len(data) // 2])
    wrong = run_dir / "records" / "streams" / "receiver-2-000009.parquet"
    pq.write_table(
        pa.table({"stream_sid": pa.array([1, 2], pa.int64()), "frames": ["a", "b"]}),
        wrong,
    )
    return frames, wrong


def test_bad_parts_are_left_out_and_named(tmp_path: Path) -> None:
    frames, wrong = _damaged(tmp_path)
    run = load_run(tmp_path)
    bad = {b.path: b for b in run.bad_parts}
    assert set(bad) == {frames, wrong}
    assert "not a readable Parquet file" in bad[frames].problem
    assert bad[wrong].table == "streams"
    assert "stream_sid is int64, not string" in bad[wrong].problem
    assert "frames is string, not int64" in bad[wrong].problem
    assert len(run.frames) == 0 and len(run.streams) == 3  # the rest is read


def test_narrower_types_are_read_without_complaint(tmp_path: Path) -> None:
    run_dir = build_passing(tmp_path)
    (part,) = (run_dir / "records" / "streams").glob("*.parquet")
    table = pq.read_table(part)
    i = table.schema.get_field_index("frames")
    pq.write_table(
        table.set_column(i, "frames", table["frames"].cast(pa.int32())), part
    )
    run = load_run(run_dir)
    assert run.bad_parts == () and run.streams["frames"].dtype == "int64"


def test_the_report_is_written_incomplete_and_exits_3_naming_each_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    frames, wrong = _damaged(tmp_path)
    assert main([str(tmp_path), "--quiet"]) == 3
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert f"records incomplete: {frames}" in err and str(wrong) in err
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["verdict"] == "incomplete"
    assert {p["path"] for p in summary["incomplete"]["parts"]} == {
        str(frames),
        str(wrong),
    }
    md = (tmp_path / "report.md").read_text()
    assert "Records incomplete" in md and str(frames) in md
    assert "Records incomplete" in (tmp_path / "report.html").read_text()


def test_a_run_json_of_the_wrong_shape_exits_2_naming_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = build_passing(tmp_path)
    (run_dir / "run.json").write_text('{"events": "abc"}')
    assert main([str(run_dir), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "run.json: events: is a string" in err and "Traceback" not in err
    (run_dir / "run.json").write_text("[" * 100_000)
    assert main([str(run_dir), "--quiet"]) == 2
    assert "nested too deep" in capsys.readouterr().err
