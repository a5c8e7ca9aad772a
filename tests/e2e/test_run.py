"""The real CLI on loopback: platform, receiver, Locust and report as separate processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.conftest import seconds


pytestmark = pytest.mark.e2e

API_TOKEN = "e2e-api-token-Zq8Kx1"
BEARER = "e2e-bearer-token-Wm4Tp7"


def table(run: Path, name: str) -> list[dict[str, object]]:
    path = run / "records" / name
    return pq.read_table(path).to_pylist() if path.exists() else []


@pytest.fixture(scope="module")
def smoke_run(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, subprocess.CompletedProcess[str]]:
    out = tmp_path_factory.mktemp("e2e") / "run"
    args = "run --duration 6s --users 4 --hold 1-2 --codecs PCMU,L16@16000h --params 0,1,10"
    env = {
        **os.environ,
        "STREAMLOAD_PLATFORM_TOKEN": API_TOKEN,
        "STREAMLOAD_BEARER_TOKEN": BEARER,
    }
    proc = subprocess.run(
        [sys.executable, "-m", "harness.cli", *args.split(), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=seconds(180),
        stdin=subprocess.DEVNULL,
        env=env,
    )
    return out, proc


def test_run_passes_and_writes_every_report(smoke_run) -> None:
    out, proc = smoke_run
    assert proc.returncode == 0, proc.stderr[-3000:]
    for name in ("summary.json", "report.md", "report.html", "junit.xml"):
        assert (out / name).stat().st_size > 0, name
    assert f"run directory {out}" in proc.stdout


def test_summary_accounts_for_every_stream(smoke_run) -> None:
    out, _ = smoke_run
    summary = json.loads((out / "summary.json").read_text())
    assert summary["verdict"] == "pass"
    assert (
        summary["conformance"]["failed"] == 0 and summary["conformance"]["passed"] > 0
    )
    codecs = summary["performance"]["codecs"]
    assert set(codecs) == {"PCMU", "L16@16000h"}
    for stats in codecs.values():
        assert stats["frames"] > 0 and stats["loss_ratio"] == 0
        for metric in ("latency_ms", "jitter_ms", "setup_ms"):
            assert set(stats[metric]) >= {"p50", "p95", "p99", "max"}
    started = [
        r for r in table(out, "requests") if r["kind"] == "start" and r["status"] == 200
    ]
    streams = table(out, "streams")
    assert started and len(streams) == len(started)
    assert {s["request_id"] for s in streams} == {r["request_id"] for r in started}
    assert all(int(str(s["stop_ns"])) > 0 for s in streams), (
        "a stream ended without stop"
    )


def test_received_frames_equal_the_platforms_send_log(smoke_run) -> None:
    out, _ = smoke_run
    sent = {
        (r["stream_sid"], r["track"], r["chunk"]) for r in table(out, "sent_frames")
    }
    got = [(r["stream_sid"], r["track"], r["chunk"]) for r in table(out, "frames")]
    assert sent and len(got) == len(set(got)) and set(got) == sent


def test_no_secret_reaches_a_report_record_or_log(smoke_run) -> None:
    out, proc = smoke_run
    leaks = [
        str(p)
        for p in out.rglob("*")
        if p.is_file()
        and p.suffix != ".pem"
        and any(t.encode() in p.read_bytes() for t in (API_TOKEN, BEARER))
    ]
    assert leaks == []
    assert (
        API_TOKEN not in proc.stdout + proc.stderr
        and BEARER not in proc.stdout + proc.stderr
    )


def test_users_discovered_conferences_through_the_api(smoke_run) -> None:
    out, _ = smoke_run
    log = (out / "locust.html").read_text()
    assert "list_conferences" in log


def test_nothing_is_left_running(smoke_run) -> None:
    out, _ = smoke_run
    pids = [int(str(p["pid"])) for p in table(out, "producers")]
    assert len(pids) >= 3
    assert [pid for pid in pids if Path(f"/proc/{pid}").exists()] == []


def test_usage_errors_are_one_line_and_exit_2(tmp_path: Path) -> None:
    for argv, needle in (
        (["--bogus"], "unrecognized arguments: --bogus"),
        (["--out", "/proc/forbidden"], "--out: cannot write to '/proc/forbidden'"),
        (["--users", "0"], "--users: '0' is not a whole number above 0"),
    ):
        proc = subprocess.run(
            [sys.executable, "-m", "harness.cli", "run", *argv],
            capture_output=True,
            text=True,
            timeout=seconds(30),
            stdin=subprocess.DEVNULL,
        )
        assert proc.returncode == 2 and needle in proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1
