from __future__ import annotations

import re

from harness.core.rules import RULES, Checker


def test_rule_ids_are_stable_and_cite_a_section() -> None:
    for rule_id, rule in RULES.items():
        assert re.fullmatch(r"(WS|REST)-[A-Z]+-\d{3}|CB-\d{3}", rule_id)
        assert rule.id == rule_id and rule.section.startswith("§") and rule.statement


def test_checker_counts_everything_but_keeps_bounded_evidence() -> None:
    checker = Checker("s1", max_evidence=2)
    for i in range(10):
        checker.check("WS-SEQ-001", i % 2 == 0, expected=i, actual=i + 1, seq=i)
    assert checker.counts["WS-SEQ-001"].checks == 10
    assert checker.failures == 5
    assert [v.seq for v in checker.violations] == [1, 3]


def test_note_records_the_reading_as_a_pass() -> None:
    checker = Checker("s1")
    checker.note("REST-CREATE-007", "queued")
    assert checker.readings == {"REST-CREATE-007": "queued"} and checker.failures == 0


def test_passes_adds_checks_in_bulk() -> None:
    checker = Checker("s1")
    checker.passes("WS-MEDIA-003", 0)
    assert checker.counts == {}
    checker.passes("WS-MEDIA-003", 7)
    checker.check("WS-MEDIA-003", False, expected=160, actual=159)
    count = checker.counts["WS-MEDIA-003"]
    assert (count.checks, count.failures) == (8, 1)


def test_every_rule_has_a_known_severity_and_callbacks_are_numbered() -> None:
    assert {r.severity for r in RULES.values()} <= {"error", "warning", "info"}
    assert [r for r in RULES if r.startswith("CB-")] == [
        f"CB-00{i}" for i in range(1, 6)
    ]


def test_evidence_text_is_cut_so_a_peer_cannot_grow_it() -> None:
    checker = Checker("s" * 10_000)
    checker.check("WS-MEDIA-001", False, expected=["a"] * 10_000, actual="x" * 200_000)
    (v,) = checker.violations
    cut = Checker.EVIDENCE_CHARS
    assert (len(v.subject), len(v.expected), len(v.actual)) == (cut, cut, cut)
