from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from harness.core.records import TABLES, columns
from harness.core.rules import Checker
from harness.io.sink import Batch, ColumnBuffer, RecordSink


def test_batches_become_separate_complete_files(tmp_path: Path) -> None:
    sink = RecordSink(tmp_path, "p1", "receiver", batch_rows=3)
    for k in range(1, 8):
        sink.add(
            "frames", ("sid", "inbound", k, k + 1, (k - 1) * 20, k * 1000, 160, 0.0)
        )
    sink.flush()
    parts = sorted((tmp_path / "records" / "frames").glob("*.parquet"))
    assert len(parts) >= 3 and not list((tmp_path / "records").rglob("*.tmp"))
    table = pq.read_table(tmp_path / "records" / "frames")
    assert table.column_names == list(columns("frames"))
    assert sorted(table.column("chunk").to_pylist()) == list(range(1, 8))
    (producer,) = pq.read_table(tmp_path / "records" / "producers").to_pylist()
    assert producer["producer"] == "p1" and producer["kind"] == "receiver"


def test_checker_rows(tmp_path: Path) -> None:
    sink = RecordSink(tmp_path, "p1", "scenario")
    checker = Checker("req-1")
    checker.check("REST-CREATE-001", False, expected=200, actual=500)
    checker.note("REST-CREATE-007", "queued")
    sink.add_checker("scenario", checker)
    sink.flush()
    checks = pq.read_table(tmp_path / "records" / "rule_checks").to_pylist()
    assert {(c["rule"], c["failures"], c["reading"]) for c in checks} == {
        ("REST-CREATE-001", 1, ""),
        ("REST-CREATE-007", 0, "queued"),
    }
    (violation,) = pq.read_table(tmp_path / "records" / "violations").to_pylist()
    assert violation["expected"] == "200" and violation["seq"] == -1


def test_every_table_has_typed_columns() -> None:
    for table, cols in TABLES.items():
        assert len({c for c, _ in cols}) == len(cols), table


def test_column_buffer_rebuilds_the_rows_in_schema_order(tmp_path: Path) -> None:
    frames = [
        ("sid-a", "inbound", 1, 2, 0, 100, 160, 0.5),
        ("sid-b", "outbound", 1, 3, 20, 110, 640, 1.0),
        ("sid-a", "inbound", 2, 4, 20, 120, 160, 0.25),
    ]
    buffer = ColumnBuffer("frames")
    for row in frames:
        buffer.add(row)
    assert len(buffer) == 3
    sink = RecordSink(tmp_path, "p1", "receiver")
    sink.write_columns("frames", buffer.columns())
    table = pq.read_table(tmp_path / "records" / "frames")
    assert table.column_names == list(columns("frames"))
    assert table.schema.field("payload_bytes").type == pa.int32()
    assert [tuple(r.values()) for r in table.to_pylist()] == frames


def test_a_number_out_of_its_columns_range_drops_only_its_row(
    caplog: pytest.LogCaptureFixture,
) -> None:
    buffer = ColumnBuffer("sent_frames")
    good = ("s", "inbound", 1, 2, 3, 4, 160, 5)
    for row in (
        good,
        ("s", "inbound", 10**20, 2, 3, 4, 160, 5),  # beyond int64
        ("s", "inbound", 1, 2, 3, 4, 2**31, 5),  # beyond int32
        ("s", "inbound", "1", 2, 3, 4, 160, 5),  # not a number at all
        good,
    ):
        buffer.add(row)
    assert len(buffer) == 2
    assert [np.asarray(c).tolist() for c in buffer.columns()[2:]] == [
        [1, 1],
        [2, 2],
        [3, 3],
        [4, 4],
        [160, 160],
        [5, 5],
    ]
    assert caplog.text.count("dropped a sent_frames row") == 3


def test_only_tables_of_strings_and_numbers_are_columnar() -> None:
    with pytest.raises(ValueError, match="audio_samples"):
        ColumnBuffer("audio_samples")  # a binary column


def test_a_batch_writes_its_columnar_and_its_tuple_rows(tmp_path: Path) -> None:
    batch = Batch("frames")
    batch.add("frames", ("sid", "inbound", 1, 2, 0, 100, 160, 0.0))
    batch.add("histograms", ("p", "jitter_ns", "PCMU", "inbound", 3, 1))
    assert len(batch) == 2
    sink = RecordSink(tmp_path, "p1", "receiver")
    batch.write(sink)
    assert sink.pending == 0
    records = tmp_path / "records"
    assert pq.read_table(records / "frames").column("chunk").to_pylist() == [1]
    assert pq.read_table(records / "histograms").column("count").to_pylist() == [1]
    assert pq.read_table(records / "producers").num_rows == 1


def test_a_record_sink_pays_arrows_one_time_costs_when_made_not_at_its_first_flush(
    tmp_path: Path,
) -> None:
    # In a child: the warm-up is once a process, and this one has had it.
    code = (
        "import sys\n"
        "import harness.io.sink as sink\n"
        "before = bool(sink._warmed)\n"
        f"sink.RecordSink(__import__('pathlib').Path({str(tmp_path)!r}), 'p', 'scenario')\n"
        "print(before, bool(sink._warmed), 'pyarrow.compute' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["False", "True", "True"]
