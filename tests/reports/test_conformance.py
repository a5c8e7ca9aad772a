"""reports.conformance: per-rule verdicts, readings and evidence from checker output."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness.core.rules import RULES, Checker, Severity
from reports.conformance import summarise_conformance, verdict
from reports.load import load_run
from tests.reports.helpers import RunBuilder


def summarise(build: RunBuilder) -> dict[str, Any]:
    run = load_run(build.write())
    return summarise_conformance(run.rule_checks, run.violations)


@pytest.mark.parametrize(
    ("checks", "failures", "severity", "expected"),
    [
        (3, 0, "error", "pass"),
        (3, 1, "error", "fail"),
        (3, 1, "warning", "warn"),
        (3, 1, "info", "warn"),
        (0, 0, "error", "not-checked"),
    ],
)
def test_verdict(checks: int, failures: int, severity: Severity, expected: str) -> None:
    assert verdict(checks, failures, severity) == expected


def test_counts_verdicts_and_totals_over_subjects(tmp_path: Path) -> None:
    build = RunBuilder(tmp_path)
    for sid in ("MZ1", "MZ2"):
        checker = Checker(sid)
        checker.check("WS-JSON-001", True)
        checker.check("WS-JSON-001", True)
        checker.check("WS-SEQ-001", sid != "MZ2", expected=1, actual=3, seq=2)
        checker.check("WS-MEDIA-005", sid != "MZ1", expected="<= 60 ms", actual="80 ms")
        build.checker(checker)
    conf = summarise(build)
    results = conf["results"]

    assert list(results)[: len(RULES)] == list(RULES)
    assert results["WS-JSON-001"] == {
        "statement": RULES["WS-JSON-001"].statement,
        "section": "§5.2",
        "docs": [
            {
                "title": "SignalWire: cXML <Stream>",
                "url": "https://signalwire.com/docs/compatibility-api/cxml/reference/voice/stream",
            }
        ],
        "severity": "error",
        "known": True,
        "checks": 4,
        "failures": 0,
        "subjects": 2,
        "failed_subjects": 0,
        "verdict": "pass",
        "readings": {},
        "sources": ["receiver"],
        "evidence": [],
    }
    seq = results["WS-SEQ-001"]
    assert (seq["checks"], seq["failures"], seq["failed_subjects"]) == (2, 1, 1)
    assert seq["verdict"] == "fail"
    assert seq["evidence"] == [
        {
            "source": "receiver",
            "subject": "MZ2",
            "seq": 2,
            "expected": "1",
            "actual": "3",
        }
    ]
    assert results["WS-MEDIA-005"]["verdict"] == "warn"
    assert {k: conf[k] for k in ("rules", "passed", "failed", "warnings")} == {
        "rules": len(RULES),
        "passed": 1,
        "failed": 1,
        "warnings": 1,
    }
    assert conf["not_checked"] == len(RULES) - 3
    assert (conf["checks"], conf["failures"]) == (8, 2)


def test_readings_are_counted_per_subject_and_never_fail(tmp_path: Path) -> None:
    build = RunBuilder(tmp_path)
    for sid, reading in (("MZ1", "absent"), ("MZ2", "absent"), ("MZ3", "present")):
        checker = Checker(sid)
        checker.note("WS-START-004", reading)
        build.checker(checker)
    result = summarise(build)["results"]["WS-START-004"]

    assert result["readings"] == {"absent": 2, "present": 1}
    assert result["verdict"] == "pass"


def test_evidence_keeps_the_first_three_by_time(tmp_path: Path) -> None:
    build = RunBuilder(tmp_path)
    checker = Checker("MZ1", max_evidence=5)
    for seq in (5, 4, 3, 2, 1):
        checker.check("WS-MEDIA-002", False, expected=seq, actual=seq + 1, seq=seq,
                      at_ns=seq * 1000)  # fmt: skip
    checker.check("WS-STOP-001", False, expected="stop", actual="close")
    build.checker(checker)
    results = summarise(build)["results"]

    evidence = results["WS-MEDIA-002"]["evidence"]
    assert [e["seq"] for e in evidence] == [1, 2, 3]
    assert results["WS-STOP-001"]["evidence"][0]["seq"] is None


def test_an_unknown_rule_id_is_reported_as_an_error_rule(tmp_path: Path) -> None:
    build = RunBuilder(tmp_path)
    build.receiver.add("rule_checks", ("receiver", "MZ1", "WS-NEW-999", 1, 1, ""))
    conf = summarise(build)
    result = conf["results"]["WS-NEW-999"]

    assert list(conf["results"])[-1] == "WS-NEW-999"
    assert (result["known"], result["severity"], result["verdict"]) == (
        False,
        "error",
        "fail",
    )
    assert conf["rules"] == len(RULES)
    assert conf["failed"] == 1


def test_no_checks_at_all(tmp_path: Path) -> None:
    build = RunBuilder(tmp_path)
    build.request("req-1")
    conf = summarise(build)

    assert conf["not_checked"] == len(RULES)
    assert (conf["passed"], conf["failed"], conf["checks"]) == (0, 0, 0)


def test_sources_name_who_checked_each_rule(tmp_path: Path) -> None:
    build = RunBuilder(tmp_path)
    for source, rule in (
        ("negative", "REST-REJECT-001"),
        ("scenario", "REST-CREATE-001"),
        ("negative", "REST-CREATE-001"),
        ("callback", "CB-004"),
    ):
        checker = Checker(f"{source}-1")
        checker.check(rule, True)
        build.checker(checker, source)
    results = summarise(build)["results"]

    assert results["REST-REJECT-001"]["sources"] == ["negative"]
    assert results["REST-CREATE-001"]["sources"] == ["negative", "scenario"]
    assert results["CB-004"]["sources"] == ["callback"]
    assert results["CB-001"]["sources"] == []


def test_each_rule_links_the_public_pages_of_its_section(tmp_path: Path) -> None:
    build = RunBuilder(tmp_path)
    checker = Checker("MZ1")
    checker.check("WS-DIALECT-002", False, expected="twilio", actual="x")
    build.checker(checker)
    results = summarise(build)["results"]
    urls = [d["url"] for d in results["WS-DIALECT-002"]["docs"]]
    assert urls and all(u.startswith("https://") for u in urls)
    assert all(results[r]["docs"] for r in RULES if RULES[r].section != "§10")
