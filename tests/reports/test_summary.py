"""reports.summary: the summary.json layout CI scripts rely on, and the verdict."""

from __future__ import annotations

import json
import socket
from pathlib import Path

from harness.core.rules import RULES
from reports.gates import Threshold
from reports.load import load_run
from reports.render import html, json as json_render, junit, markdown
from reports.summary import SCHEMA, Report, build_report
from tests.reports.helpers import DEFAULT_THRESHOLDS, RunBuilder, build_summary


def test_the_documented_keys_are_there(passing_report: Report) -> None:
    """docs/architecture.md, "Command line and outputs": the keys CI scripts may read."""
    summary = passing_report.summary

    assert summary["schema"] == SCHEMA
    assert summary["verdict"] == "pass"
    conformance = summary["conformance"]
    assert {"rules", "passed", "failed", "results"} <= set(conformance)
    assert conformance["rules"] == len(RULES)
    assert set(summary["performance"]) >= {"codecs", "tracks", "requests", "basis"}
    for codec in ("PCMU", "L16"):
        entry = summary["performance"]["codecs"][codec]
        assert {"streams", "frames", "frames_sent", "loss_ratio"} <= set(entry)
        for metric in ("latency_ms", "jitter_ms", "setup_ms"):
            assert {"p50", "p95", "p99", "max"} <= set(entry[metric])
    for gate in summary["thresholds"]:
        assert {"name", "metric", "limit", "value", "result"} <= set(gate)
    assert {"unaccounted", "frames_sent", "frames_received"} <= set(
        summary["accounting"]
    )
    json.dumps(summary, allow_nan=False)  # plain JSON data only


def test_run_information(passing_report: Report) -> None:
    run = passing_report.summary["run"]

    assert (run["run_id"], run["run_ids"]) == ("run-1", ["run-1"])
    assert run["producers"] == {"platform": 1, "receiver": 1, "scenario": 1}
    assert run["hosts"] == 1
    assert run["records"]["frames"] == 150
    # the first request at T0, the last stream closed at T0 + 5001 ms
    assert run["duration_s"] == 5.001


def test_a_failed_gate_fails_the_run(failing_report: Report) -> None:
    summary = failing_report.summary
    failed = {
        (g["name"], g["filter"]) for g in summary["thresholds"] if g["result"] == "fail"
    }

    assert summary["verdict"] == "fail"
    assert failed == {
        ("conformance", None),
        ("loss", "codec=PCMA"),
        ("latency", "codec=PCMA"),
        ("accounting", None),
    }
    assert summary["performance"]["codecs"]["PCMA"]["loss_ratio"] == 0.1


def test_thresholds_can_be_replaced(failing_dir: Path) -> None:
    run = load_run(failing_dir)
    summary = build_summary(
        run, [Threshold("frames", "accounting.frames_received", ">=", 1)]
    )

    assert summary["verdict"] == "pass"
    assert [g["name"] for g in summary["thresholds"]] == ["frames"]


def test_host_names_stay_out(failing_report: Report, failing_dir: Path) -> None:
    """The producers table names hosts; the summary only counts them."""
    text = json.dumps(failing_report.summary)

    assert failing_report.summary["run"]["hosts"] == 1
    assert f'"{socket.gethostname()}"' not in text
    assert str(failing_dir) not in text


def test_a_run_with_nothing_but_producers_renders(tmp_path: Path) -> None:
    """Every table empty: no crash, every metric no-data, renderers still work."""
    report = build_report(load_run(RunBuilder(tmp_path).write()), DEFAULT_THRESHOLDS)
    summary = report.summary

    assert summary["performance"]["codecs"] == {}
    assert summary["run"]["duration_s"] is None
    assert summary["run"]["run_id"] is None
    assert summary["verdict"] == "fail"  # nothing was streamed: that is no pass
    assert {g["name"]: g["result"] for g in summary["thresholds"]} == {
        "activity": "fail",
        "conformance": "pass",
        "loss": "no-data",
        "latency": "no-data",
        "setup": "no-data",
        "accounting": "pass",
        "request-errors": "no-data",
    }
    for text in (
        json_render.render(summary),
        markdown.render(summary),
        html.render(summary, report.plots),
        junit.render(summary),
    ):
        assert text
