"""The Locust process's records: the same rows as the per-row sink, written off the users' thread."""

from __future__ import annotations

import json
from array import array
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings, strategies as st

import scenarios.records as records_module
from harness.core.checks_io import checker_rows
from harness.core.records import columns
from harness.core.rules import Checker
from harness.io.sink import RecordSink
from scenarios.records import (
    Pattern,
    ScenarioRecords,
    pattern_of,
    rule_check_columns,
)


RULES = ["REST-CREATE-001", "REST-CREATE-002", "REST-CREATE-003", "REST-STOP-001"]

outcomes = st.lists(
    st.tuples(
        st.sampled_from(RULES), st.booleans(), st.sampled_from(["", "twilio", "x"])
    ),
    max_size=8,
)


def make_checker(subject: str, steps: list[tuple[str, bool, str]]) -> Checker:
    checker = Checker(subject)
    for rule, ok, reading in steps:
        if reading and ok:
            checker.note(rule, reading)
        else:
            checker.check(rule, ok, expected="e", actual=reading, at_ns=7)
    return checker


def expected_rows(source: str, checkers: list[Checker]) -> list[tuple[object, ...]]:
    return [
        row
        for checker in checkers
        for table, row in checker_rows(source, checker)
        if table == "rule_checks"
    ]


@settings(max_examples=60, deadline=None)
@given(st.lists(outcomes, max_size=12))
def test_patterns_expand_to_the_rows_checker_rows_gives(
    all_steps: list[list[tuple[str, bool, str]]],
) -> None:
    checkers = [make_checker(f"req-{i}", s) for i, s in enumerate(all_steps)]
    codes: dict[object, int] = {}
    patterns: list[Pattern] = []
    index = array("i")
    for checker in checkers:
        key = pattern_of("scenario", checker)
        if key not in codes:
            codes[key] = len(patterns)
            patterns.append(key)
        index.append(codes[key])
    built = rule_check_columns([c.subject for c in checkers], index, patterns)
    table = pa.table(
        [pa.array(column) for column in built], names=list(columns("rule_checks"))
    )
    got = [tuple(row.values()) for row in table.to_pylist()]
    assert got == expected_rows("scenario", checkers)


def read(run: Path, table: str) -> list[tuple[object, ...]]:
    path = run / "records" / table
    if not path.exists():
        return []
    return [tuple(r.values()) for r in pq.read_table(path).to_pylist()]


def request_row(i: int) -> tuple[object, ...]:
    return (
        "run", f"req-{i}", "start", "conf", "PCMU", "inbound_track", 1,
        i, i + 1, i + 2, 200, f"sid-{i}", "", "fp", "corr", "acct",
    )  # fmt: skip


def fill(sink: ScenarioRecords | RecordSink, checkers: list[Checker], n0: int) -> None:
    for i, checker in enumerate(checkers):
        sink.add("requests", request_row(n0 + i))
        sink.add_checker("scenario", checker)


def test_the_parts_hold_what_the_per_row_sink_wrote(tmp_path: Path) -> None:
    """Requests, rule checks, violations and the producer row, across two batches."""
    failing = make_checker("req-f", [("REST-CREATE-002", False, "bad")])
    checkers = [
        make_checker(
            f"req-{i}", [("REST-CREATE-001", True, ""), (RULES[i % 3], True, "x")]
        )
        for i in range(50)
    ] + [failing]
    new = ScenarioRecords(RecordSink(tmp_path / "new", "scenario-1", "scenario"))
    old = RecordSink(tmp_path / "old", "scenario-1", "scenario")
    fill(new, checkers[:20], 0)
    new.hand_off()  # written on the writer thread while more rows come
    fill(new, checkers[20:], 20)
    new.close()
    fill(old, checkers, 0)
    old.flush()
    old.write_manifest()
    for table in ("requests", "rule_checks", "violations"):
        assert sorted(read(tmp_path / "new", table), key=str) == sorted(
            read(tmp_path / "old", table), key=str
        ), table
    assert len(read(tmp_path / "new", "violations")) == 1
    producers = read(tmp_path / "new", "producers")
    assert [row[:2] for row in producers] == [("scenario-1", "scenario")]
    manifest = tmp_path / "new" / "producers" / "scenario-1.json"
    assert json.loads(manifest.read_text()) == json.loads(
        (tmp_path / "old" / "producers" / "scenario-1.json").read_text()
    )


def test_past_the_pattern_bound_checkers_are_written_as_plain_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(records_module, "MAX_PATTERNS", 1)
    checkers = [
        make_checker("a", [("REST-CREATE-001", True, "")]),
        make_checker("b", [("REST-CREATE-001", False, "")]),  # a second pattern
        make_checker("c", [("REST-CREATE-001", True, "")]),
    ]
    sink = ScenarioRecords(RecordSink(tmp_path, "scenario-1", "scenario"))
    fill(sink, checkers, 0)
    sink.flush()
    assert sorted(read(tmp_path, "rule_checks")) == sorted(
        expected_rows("scenario", checkers)
    )


def test_hand_off_never_waits_for_the_writer(tmp_path: Path) -> None:
    sink = ScenarioRecords(RecordSink(tmp_path, "scenario-1", "scenario"))
    fill(sink, [make_checker("a", [("REST-CREATE-001", True, "")])], 0)
    sink.hand_off()
    assert sink.pending == 0
    fill(sink, [make_checker("b", [("REST-CREATE-001", True, "")])], 1)
    sink.hand_off()  # the first write may be under way: this one waits its turn
    sink.flush()
    assert sink.pending == 0
    assert sorted(str(r[1]) for r in read(tmp_path, "rule_checks")) == ["a", "b"]


def test_a_failed_write_is_counted_not_raised(tmp_path: Path) -> None:
    blocked = tmp_path / "run"
    sink = ScenarioRecords(RecordSink(blocked, "scenario-1", "scenario"))
    blocked.mkdir()
    (blocked / "records").write_text("a file where the folder should be")
    fill(sink, [make_checker("a", [("REST-CREATE-001", True, "")])], 0)
    sink.close()
    lost = json.loads((blocked / "producers" / "scenario-1.json").read_text())
    assert lost["rows_failed"] == {"producers": 1, "requests": 1, "rule_checks": 1}
    assert not lost["complete"]
