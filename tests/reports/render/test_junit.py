"""reports.render.junit: one test case per catalog rule and per gate."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from harness.core.rules import RULES
from reports.render.junit import render
from reports.summary import Report


def suites(report: Report) -> dict[str, ET.Element]:
    root = ET.fromstring(render(report.summary))
    assert root.tag == "testsuites"
    return {s.get("name", ""): s for s in root.findall("testsuite")}


def test_one_case_per_catalog_rule(failing_report: Report) -> None:
    conformance = suites(failing_report)["conformance"]
    cases = {c.get("name"): c for c in conformance.findall("testcase")}

    assert list(cases) == list(RULES)
    failure = cases["WS-MEDIA-003"].find("failure")
    assert failure is not None
    assert failure.get("message", "").startswith("WS-MEDIA-003: media.payload is valid")
    assert "1 of 1 checks failed" in failure.get("message", "")
    assert "MZ2 seq=7: expected 160 bytes" in (failure.text or "")
    assert cases["WS-MEDIA-005"].find("failure") is None  # a warning passes
    assert cases["WS-JSON-001"].find("skipped") is not None
    assert conformance.get("tests") == str(len(RULES))
    assert conformance.get("failures") == "1"
    assert conformance.get("skipped") == str(len(RULES) - 3)


def test_one_case_per_gate(failing_report: Report) -> None:
    gates = suites(failing_report)["gates"]
    cases = gates.findall("testcase")
    thresholds = failing_report.summary["thresholds"]

    assert len(cases) == len(thresholds)
    assert gates.get("failures") == str(sum(g["result"] == "fail" for g in thresholds))
    failed = [c.get("name") for c in cases if c.find("failure") is not None]
    assert "loss [codec=PCMA]" in failed
    assert "accounting" in failed


def test_no_data_gates_are_skipped() -> None:
    summary = {
        "conformance": {"results": {}},
        "thresholds": [
            {
                "name": "latency",
                "filter": None,
                "result": "no-data",
                "message": "performance.codecs.*.latency_ms.p99: no data",
            }
        ],
    }
    root = ET.fromstring(render(summary))
    assert root.get("skipped") == "1"
    assert root.get("tests") == "1"


def test_a_rule_not_checked_is_skipped_with_its_reason_and_fix() -> None:
    reason = "needs the negative suite, which did not run: no answer"
    summary = {
        "conformance": {
            "results": {
                "REST-REJECT-001": {"verdict": "not-checked", "checks": 0, "failures": 0},
                "WS-DIALECT-002": {"verdict": "not-checked", "checks": 0, "failures": 0},
                "WS-SID-001": {"verdict": "not-checked", "checks": 0, "failures": 0},
            },
            "not_checked_rules": [
                {"rule": "REST-REJECT-001", "reason": reason,
                 "fix": "give --conference-sids", "required": True},
                {"rule": "WS-DIALECT-002", "reason": "applies to the twilio dialect only",
                 "fix": "nothing to fix", "required": False},
            ],
        },
        "thresholds": [],
    }  # fmt: skip
    cases = {
        c.get("name"): c.find("skipped")
        for c in ET.fromstring(render(summary)).iter("testcase")
    }
    rejected = cases["REST-REJECT-001"]
    assert rejected is not None and rejected.get("message") == reason
    assert rejected.text == (
        "fix: give --conference-sids\nrequired by the profile: the coverage gate fails"
    )
    dialect = cases["WS-DIALECT-002"]
    assert dialect is not None and dialect.text is None
    assert dialect.get("message") == "applies to the twilio dialect only"
    unknown = cases["WS-SID-001"]  # a summary from before reasons existed
    assert unknown is not None and unknown.get("message") == "not checked in this run"


def _gate(result: str, source: str) -> dict[str, object]:
    return {
        "name": "loss_ratio",
        "filter": "codec=PCMU",
        "result": result,
        "message": "performance.codecs.PCMU.loss_ratio = 0.1, breaks the limit <= 0.001",
        "source": source,
    }


def test_run_start_times_properties_and_each_gates_source() -> None:
    summary: dict[str, object] = {
        "started_at": "2026-12-02T10:00:00Z",
        "target": "embedded reference platform",
        "profile": {"name": "nightly", "source": "nightly (built-in)"},
        "version": "1.2.3",
        "git_commit": None,
        "tags": {"branch": "main"},
        "run": {"run_id": "r1", "duration_s": 612.5},
        "conformance": {"results": {}},
        "thresholds": [
            _gate("fail", "ci/my.toml:12"),
            _gate("pass", "nightly (built-in):32"),
            _gate("fail", "--threshold"),
        ],
    }
    root = ET.fromstring(render(summary))
    assert root.get("timestamp") == "2026-12-02T10:00:00Z"
    assert root.get("time") == "612.500"
    for suite in root.findall("testsuite"):
        assert suite.get("timestamp") == "2026-12-02T10:00:00Z"
        assert suite.get("time") == "612.500"
        props = {p.get("name"): p.get("value") for p in suite.iter("property")}
        assert props["profile"] == "nightly (built-in)"
        assert props["version"] == "1.2.3" and props["tag.branch"] == "main"
        assert "git_commit" not in props  # none outside a checkout
    own, builtin, flag = root.findall("testsuite")[1].findall("testcase")
    assert (own.get("file"), own.get("line"), own.get("time")) == (
        "ci/my.toml",
        "12",
        "0",
    )
    failure = own.find("failure")
    assert failure is not None
    assert "(ci/my.toml:12)" in failure.get("message", "")
    assert "declared at ci/my.toml:12" in (failure.text or "")
    assert builtin.get("file") == "harness/core/profiles/nightly.toml"
    assert builtin.get("line") == "32"
    assert flag.get("file") is None  # a flag is no file
    assert "(--threshold)" in (flag.find("failure").get("message", ""))  # type: ignore[union-attr]


def test_without_a_start_time_or_span() -> None:
    summary: dict[str, object] = {"conformance": {"results": {}}, "thresholds": []}
    root = ET.fromstring(render(summary))
    assert root.get("timestamp") is None and root.get("time") == "0"
