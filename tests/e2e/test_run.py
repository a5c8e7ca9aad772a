"""The real CLI on loopback: the smoke profile, an impaired platform, and compare.

Platform, receivers, callback sink, negative suite, Locust and report run as
separate processes, as in CI.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import seconds
from tests.e2e.runs import API_TOKEN, BEARER, streamload, summary, table


pytestmark = pytest.mark.e2e

Run = tuple[Path, subprocess.CompletedProcess[str]]


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    out = tmp_path_factory.mktemp("e2e") / "smoke"
    return out, streamload("run", "--profile", "smoke", "--out", str(out))


@pytest.fixture(scope="module")
def impaired_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """The same profile against a platform that delays every frame by 25 ms."""
    out = tmp_path_factory.mktemp("e2e") / "impaired"
    proc = streamload(
        *("run", "--profile", "smoke", "--out", str(out)),
        *("--fault", "delay=25ms", "--threshold", "latency_ms.p99=<= 15"),
        *("--duration", "4s"),
    )
    return out, proc


def test_smoke_passes_and_writes_every_report(smoke_run: Run) -> None:
    out, proc = smoke_run
    assert proc.returncode == 0, proc.stderr[-3000:]
    for name in (
        "summary.json",
        "report.md",
        "report.html",
        "junit.xml",
        "profile.json",
        "run.json",
    ):
        assert (out / name).stat().st_size > 0, name
    assert f"run directory {out}" in proc.stdout
    assert summary(out)["profile"]["name"] == "smoke"


def test_smoke_sends_every_value_of_the_request_space(smoke_run: Run) -> None:
    out, _ = smoke_run
    starts = [r for r in table(out, "requests") if r["kind"] == "start"]
    assert {r["codec"] for r in starts} == {
        "PCMU",
        "PCMA",
        "L16",
        "L16@16000h",
        "L16@24000h",
    }
    assert {r["track"] for r in starts} == {
        "inbound_track",
        "outbound_track",
        "both_tracks",
    }
    assert {r["n_params"] for r in starts} == {0, 1, 10, 98}
    streams = table(out, "streams")
    producers = {p["producer"] for p in table(out, "producers")}
    assert {
        "receiver-0",
        "receiver-open",
        "callbacks",
    } <= producers  # bearer on/off, callbacks
    assert table(out, "callbacks"), "status callbacks reached the sink"
    assert {c["source"] for c in table(out, "rule_checks")} >= {
        "scenario",
        "receiver",
        "negative",
    }
    assert len(streams) >= len([r for r in starts if r["status"] == 200])


def test_summary_accounts_for_every_stream(smoke_run: Run) -> None:
    out, _ = smoke_run
    doc = summary(out)
    assert doc["verdict"] == "pass"
    assert doc["conformance"]["failed"] == 0 and doc["conformance"]["passed"] > 0
    codecs = doc["performance"]["codecs"]
    assert set(codecs) >= {"PCMU", "PCMA", "L16", "L16@16000h", "L16@24000h"}
    for name in ("PCMU", "L16@24000h"):
        stats = codecs[name]
        assert stats["frames"] > 0 and stats["loss_ratio"] == 0
        for metric in ("latency_ms", "jitter_ms", "setup_ms"):
            assert set(stats[metric]) >= {"p50", "p95", "p99", "max"}
    assert doc["accounting"]["unaccounted"] == 0
    gates = {g["name"]: g for g in doc["thresholds"]}
    assert gates["conformance"]["result"] == "pass"
    assert gates["setup_ms.p99"]["source"].startswith("smoke (built-in):")
    # require = "all": every rule the reference platform's dialect can show is
    # checked; only the twilio-dialect ones are left, each with its reason
    assert gates["coverage"]["result"] == "pass", gates["coverage"]["message"]
    unchecked = {e["rule"]: e for e in doc["conformance"]["not_checked_rules"]}
    assert set(unchecked) == {"WS-SID-001", "WS-DIALECT-002"}
    assert not any(e["required"] for e in unchecked.values())


def test_received_frames_equal_the_platforms_send_log(smoke_run: Run) -> None:
    out, _ = smoke_run
    sent = {
        (r["stream_sid"], r["track"], r["chunk"]) for r in table(out, "sent_frames")
    }
    got = [(r["stream_sid"], r["track"], r["chunk"]) for r in table(out, "frames")]
    assert sent and len(got) == len(set(got)) and set(got) == sent


def test_no_secret_reaches_a_report_record_or_log(smoke_run: Run) -> None:
    out, proc = smoke_run
    leaks = [
        str(p)
        for p in out.rglob("*")
        if p.is_file()
        and p.suffix not in (".pem", ".key")
        and any(t.encode() in p.read_bytes() for t in (API_TOKEN, BEARER))
    ]
    assert leaks == []
    assert API_TOKEN not in proc.stdout + proc.stderr
    assert BEARER not in proc.stdout + proc.stderr


def test_nothing_is_left_running(smoke_run: Run) -> None:
    out, _ = smoke_run
    pids = [int(str(p["pid"])) for p in table(out, "producers")]
    assert len(pids) >= 5
    assert [pid for pid in pids if Path(f"/proc/{pid}").exists()] == []


def test_a_run_on_the_websockets_transport_passes_end_to_end(tmp_path: Path) -> None:
    """The receivers' other transport, chosen for a whole run by
    ``--receiver-transport`` (the smoke run above is on the default, picows)."""
    out = tmp_path / "websockets"
    proc = streamload(
        *("run", "--profile", "smoke", "--out", str(out), "--duration", "3s"),
        *("--receiver-transport", "websockets"),
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    used = json.loads((out / "run.json").read_text())["receiver_transports"]
    assert used and set(used.values()) == {"websockets"}, used
    sent = {
        (r["stream_sid"], r["track"], r["chunk"]) for r in table(out, "sent_frames")
    }
    got = [(r["stream_sid"], r["track"], r["chunk"]) for r in table(out, "frames")]
    assert sent and len(got) == len(set(got)) and set(got) == sent


def test_an_impaired_platform_breaks_the_gate_and_names_it(impaired_run: Run) -> None:
    out, proc = impaired_run
    assert proc.returncode == 1, proc.stderr[-3000:]
    failed = [g for g in summary(out)["thresholds"] if g["result"] == "fail"]
    assert failed and {g["name"] for g in failed} == {"latency_ms.p99"}
    assert "gate failed: latency_ms.p99 (" in proc.stderr
    assert "breaks the limit <= 15" in proc.stderr
    assert "| FAIL | latency_ms.p99 [codec=" in (out / "report.md").read_text()
    junit = (out / "junit.xml").read_text()
    assert '<failure message="latency_ms.p99 [codec=' in junit  # the gate, its source
    assert "breaks the limit &lt;= 15" in junit


def compare(base: Path, new: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness.run.cli", "compare", str(base), str(new)],
        capture_output=True,
        text=True,
        timeout=seconds(60),
        stdin=subprocess.DEVNULL,
    )


def test_compare_flags_the_injected_regression(
    smoke_run: Run, impaired_run: Run
) -> None:
    done = compare(smoke_run[0], impaired_run[0])
    assert done.returncode == 1, done.stdout + done.stderr
    assert "# streamload compare: REGRESSED" in done.stdout
    # +25 ms; on a saturated host the row may be shown as suspect instead
    assert re.search(
        r"\| (\*\*REGRESSED\*\*|suspect) \| PCMU \| latency_ms\.p50 \|", done.stdout
    ), done.stdout
    assert (
        "- latency_ms.p99: performance.codecs." in done.stdout
    )  # a newly failing gate


def test_compare_passes_an_identical_rerun(
    smoke_run: Run, tmp_path_factory: pytest.TempPathFactory
) -> None:
    out = tmp_path_factory.mktemp("e2e") / "rerun"
    rerun = streamload("run", "--profile", "smoke", "--out", str(out), "--quiet")
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    done = compare(smoke_run[0], out)
    if done.returncode != 0 and "Harness saturated in" in done.stdout:
        # timing on a saturated host is not the platform's (issue 5): nothing to judge
        pytest.skip("harness saturated on this host; identical-rerun timing not judged")
    assert done.returncode == 0, done.stdout
    assert "# streamload compare: SAME-OR-BETTER" in done.stdout


def test_usage_errors_are_one_line_and_exit_2(tmp_path: Path) -> None:
    for argv, needle in (
        (["--bogus"], "unrecognized arguments: --bogus"),
        (["--out", "/proc/forbidden"], "--out: cannot write to '/proc/forbidden'"),
        (["--users", "0"], "--users: 0 is out of range"),
    ):
        proc = streamload("run", *argv, timeout=30)
        assert proc.returncode == 2 and needle in proc.stderr, proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1
