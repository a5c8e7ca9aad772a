"""reports.record_health: the harness's lost records void the gates, never fail them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.core.clocks import ClockPlan
from harness.core.record_loss import RecordLoss
from reports import record_health


def gates() -> list[dict[str, Any]]:
    return [
        {"name": "conformance", "result": "fail", "message": "1 rule(s) failed"},
        {"name": "loss", "result": "fail", "message": "loss_ratio = 0.2"},
        {"name": "latency", "result": "pass", "message": "p99 = 3"},
        {"name": "setup", "result": "no-data", "message": "no data"},
    ]


def summary() -> dict[str, Any]:
    return {"verdict": "fail", "thresholds": gates(), "accounting": {"unaccounted": 3}}


def test_a_run_without_faults_is_complete_and_judged_as_before(tmp_path: Path) -> None:
    loss = RecordLoss("receiver-0", "receiver")
    (tmp_path / "producers").mkdir()
    (tmp_path / "producers" / "receiver-0.json").write_text(json.dumps(loss.as_json()))
    health = record_health.collect(tmp_path, {"events": []}, 0)
    assert health == {"complete": True, "producers": [], "message": ""}
    doc = summary()
    record_health.apply(doc, health)
    assert doc["verdict"] == "fail" and doc["thresholds"] == gates()
    assert "void" not in doc["accounting"]


def test_lost_rows_and_a_dead_receiver_name_the_producer_and_void_the_gates(
    tmp_path: Path,
) -> None:
    loss = RecordLoss("receiver-0", "receiver")
    loss.fail("frames", 1200, "[Errno 28] No space left on device", 3_500_000_000, 1)
    loss.drop("frames", 30, 4_000_000_000, 2)
    (tmp_path / "producers").mkdir()
    (tmp_path / "producers" / "receiver-0.json").write_text(json.dumps(loss.as_json()))
    run_json = {
        "record_faults": [
            {"producer": "receiver-1", "what": "exited early (code -9)",
             "mono_ns": 2_000_000_000},
            {"producer": "receiver-1", "what": "exited with code -9", "mono_ns": None},
        ]
    }  # fmt: skip
    health = record_health.collect(tmp_path, run_json, 1_000_000_000)
    assert not health["complete"]
    by_name = {p["producer"]: p for p in health["producers"]}
    assert by_name["receiver-0"]["rows_failed"] == 1200
    assert by_name["receiver-0"]["rows_dropped"] == 30
    assert (by_name["receiver-0"]["from_s"], by_name["receiver-0"]["to_s"]) == (
        2.5,
        3.0,
    )
    assert by_name["receiver-1"]["from_s"] == 1.0
    assert "No space left" in health["message"] and "receiver-1" in health["message"]
    doc = summary()
    record_health.apply(doc, health)
    assert doc["verdict"] == "incomplete"
    results = {g["name"]: g["result"] for g in doc["thresholds"]}
    assert results == {
        "conformance": "fail",  # a recorded violation is real
        "loss": "void",
        "latency": "void",
        "setup": "no-data",
    }
    assert "not the platform's" in doc["accounting"]["void"]


def test_unreadable_manifests_are_skipped(tmp_path: Path) -> None:
    (tmp_path / "producers").mkdir()
    (tmp_path / "producers" / "x.json").write_text("{not json")
    (tmp_path / "producers" / "y.json").write_text("[1, 2]")
    assert record_health.collect(tmp_path, None, None)["complete"]


def test_without_requests_times_count_from_the_cli_start(tmp_path: Path) -> None:
    run_json = {
        "events": [{"at_s": 0.5, "mono_ns": 10_500_000_000, "what": "ready"}],
        "record_faults": [
            {
                "producer": "run directory",
                "what": "disk full",
                "mono_ns": 13_000_000_000,
            }
        ],
    }
    health = record_health.collect(tmp_path, run_json, None)
    (item,) = health["producers"]
    assert (
        item["from_s"] == 3.0 and "run directory at 3 s: disk full" in health["message"]
    )


def test_records_of_several_hosts_time_faults_on_the_wall_clock(tmp_path: Path) -> None:
    """The run's start is then a wall time: a producer's faults are placed by its
    manifest's wall times; the CLI's monotonic-only faults get no when."""
    wall0 = 1_700_000_000 * 10**9
    loss = RecordLoss("receiver-0", "receiver")
    loss.drop("frames", 30, 4_000_000_000, wall0 + 2_500_000_000)
    (tmp_path / "producers").mkdir()
    (tmp_path / "producers" / "receiver-0.json").write_text(json.dumps(loss.as_json()))
    run_json = {
        "record_faults": [
            {"producer": "receiver-1", "what": "exited early", "mono_ns": 2 * 10**9}
        ]
    }
    clock = ClockPlan(hosts=2, offsets={"receiver-0": 1})
    health = record_health.collect(tmp_path, run_json, wall0, clock)
    by_name = {p["producer"]: p for p in health["producers"]}
    assert by_name["receiver-0"]["from_s"] == 2.5
    assert by_name["receiver-1"]["from_s"] is None
