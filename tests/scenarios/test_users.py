"""StreamUser in a real Locust run against the real platform and receiver."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pyarrow.parquet as pq
import pytest

from harness.io.tls import TlsFiles
from tests.conftest import seconds
from tests.scenarios.conftest import locust_argv


pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def locust_run(
    services: dict[str, Any], tls_files: TlsFiles
) -> dict[str, list[dict[str, Any]]]:
    argv = locust_argv(
        services,
        tls_files,
        "--users",
        "3",
        "--spawn-rate",
        "3",
        "--run-time",
        "5s",
        "--stop-timeout",
        "10",
        "--sl-hold",
        "0.3-0.6",
        "--sl-params",
        "0,1,10",
        "--sl-codecs",
        "PCMU,PCMA,L16@24000h",
    )
    proc = subprocess.run(
        [sys.executable, *argv],
        env={**os.environ, **services["env"]},
        capture_output=True,
        text=True,
        timeout=seconds(120),
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    for child in services["children"]:  # flush what the servers hold
        assert child.alive()
    run = services["run"]
    records = {
        t: pq.read_table(run / "records" / t).to_pylist()
        for t in ("requests", "rule_checks")
    }
    return records


def test_every_start_is_answered_and_stopped(locust_run) -> None:
    requests = locust_run["requests"]
    starts = [r for r in requests if r["kind"] == "start"]
    stops = [r for r in requests if r["kind"] == "stop"]
    assert starts and all(r["status"] == 200 and r["stream_sid"] for r in starts)
    assert sorted(r["stream_sid"] for r in stops) == sorted(
        r["stream_sid"] for r in starts
    )
    assert all(r["due_ns"] <= r["sent_ns"] <= r["done_ns"] for r in requests)


def test_the_matrix_is_walked(locust_run) -> None:
    starts = [r for r in locust_run["requests"] if r["kind"] == "start"]
    assert {r["codec"] for r in starts} == {"PCMU", "PCMA", "L16@24000h"}
    assert {r["n_params"] for r in starts} >= {0}


def test_rest_answers_pass_their_rules(locust_run) -> None:
    checks = [c for c in locust_run["rule_checks"] if c["source"] == "scenario"]
    assert {c["rule"] for c in checks} >= {
        "REST-CREATE-001",
        "REST-CREATE-002",
        "REST-STOP-001",
    }
    assert [c for c in checks if c["failures"]] == []


def test_the_open_model_sends_on_schedule_and_counts_from_due(
    services: dict[str, Any], tls_files: TlsFiles
) -> None:
    """20 starts/s whatever the answers take; latency from each slot."""
    argv = locust_argv(
        services,
        tls_files,
        *("--users", "10", "--spawn-rate", "10", "--run-time", "3s"),
        *("--stop-timeout", "5", "--sl-hold", "0.3", "--sl-rate", "20"),
        *("--sl-codecs", "PCMU", "--sl-run-id", "open-model"),
    )
    proc = subprocess.run(
        [sys.executable, *argv],
        env={**os.environ, **services["env"]},
        capture_output=True,
        text=True,
        timeout=seconds(60),
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = pq.read_table(services["run"] / "records" / "requests").to_pylist()
    starts = sorted(
        (r for r in rows if r["run_id"] == "open-model" and r["kind"] == "start"),
        key=lambda r: r["due_ns"],
    )
    assert len(starts) == 60  # 20/s for 3 s: the schedule, not the stop, ends it
    gaps = {b["due_ns"] - a["due_ns"] for a, b in zip(starts, starts[1:], strict=False)}
    assert gaps == {50_000_000}  # the schedule, not the answers, sets the pace
    assert all(r["due_ns"] <= r["sent_ns"] <= r["done_ns"] for r in starts)
    assert all(r["status"] == 200 for r in starts)
