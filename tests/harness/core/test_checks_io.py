from __future__ import annotations

from harness.core.checks_io import checker_rows
from harness.core.records import columns
from harness.core.rules import Checker


def test_rows_match_their_tables_and_use_the_final_subject() -> None:
    checker = Checker("conn-1")
    checker.check("WS-ORDER-001", False, expected="connected", actual="media", at_ns=5)
    checker.note("WS-START-004", "absent")
    checker.subject = "sid-9"  # learned from start, after the violation
    rows = list(checker_rows("receiver", checker))
    for table, row in rows:
        assert len(row) == len(columns(table))
    assert (
        "violations",
        ("receiver", "WS-ORDER-001", "sid-9", -1, "connected", "media", 5),
    ) in rows
    assert (
        "rule_checks",
        ("receiver", "sid-9", "WS-START-004", 1, 0, "absent"),
    ) in rows
