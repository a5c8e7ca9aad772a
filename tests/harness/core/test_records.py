from __future__ import annotations

from harness.core.records import TABLES, MemorySink, columns
from harness.core.rules import Checker


def test_columns_follow_the_schema_order() -> None:
    assert columns("frames")[:3] == ("stream_sid", "track", "chunk")
    assert all(len(columns(t)) == len(TABLES[t]) for t in TABLES)


def test_every_time_column_is_integer_nanoseconds() -> None:
    for table, cols in TABLES.items():
        for name, kind in cols:
            if name.endswith("_ns") and name != "jitter_ns":
                assert kind == "int64", (table, name)


def test_memory_sink_keeps_rows_and_checker_output() -> None:
    sink = MemorySink()
    checker = Checker("s1")
    checker.check("WS-SEQ-001", False, expected=2, actual=3, seq=3)
    sink.add_checker("receiver", checker)
    assert sink.rows["rule_checks"] == [("receiver", "s1", "WS-SEQ-001", 1, 1, "")]
    assert sink.rows["violations"] == [("receiver", "WS-SEQ-001", "s1", 3, "2", "3", 0)]
