from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq

from harness.records import TABLES, columns
from harness.rules import Checker
from harness.sink import RecordSink


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


def test_interned_strings_rebuild_the_column() -> None:
    from array import array

    from harness.sink import interned_strings

    names = {"sid-a": 0, "sid-b": 1}
    column = interned_strings(names, array("i", [1, 0, 1, 1]))
    assert column.to_pylist() == ["sid-b", "sid-a", "sid-b", "sid-b"]
