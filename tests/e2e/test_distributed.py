"""Locust master + two workers, receivers and the platform on two processes: one report."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.runs import streamload, summary, table


pytestmark = pytest.mark.e2e


def test_two_workers_merge_into_counts_equal_to_the_send_log(tmp_path: Path) -> None:
    out = tmp_path / "distributed"
    proc = streamload(
        *("run", "--profile", "smoke", "--duration", "4s", "--out", str(out)),
        *("--processes", "2", "--receiver-processes", "2", "--negative", "off"),
        *("--platform-processes", "2"),
        *("--status-callback", "off", "--quiet"),
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    producers = table(out, "producers")
    scenario = {p["producer"] for p in producers if p["kind"] == "scenario"}
    receivers = {p["producer"] for p in producers if p["kind"] == "receiver"}
    assert len(scenario) == 2, (
        scenario
    )  # one per Locust worker; the master records nothing
    assert len(receivers) >= 4, receivers  # two processes behind each receiver port
    senders = {
        part.name.rsplit("-", 1)[0]
        for part in (out / "records" / "sent_frames").glob("*.parquet")
    }
    assert len(senders) == 2, senders  # both platform processes streamed
    requests = table(out, "requests")
    by_worker = {p: 0 for p in scenario}
    for r in requests:
        by_worker[str(r["request_id"]).rsplit("-", 1)[0]] += 1
    assert all(n > 0 for n in by_worker.values()), by_worker
    started = {
        r["stream_sid"] for r in requests if r["kind"] == "start" and r["status"] == 200
    }
    stopped = {
        r["stream_sid"] for r in requests if r["kind"] == "stop" and r["status"] == 200
    }
    platform = {r["stream_sid"] for r in table(out, "platform_streams")}
    assert started and started == platform == stopped
    sent = {
        (r["stream_sid"], r["track"], r["chunk"]) for r in table(out, "sent_frames")
    }
    got = [(r["stream_sid"], r["track"], r["chunk"]) for r in table(out, "frames")]
    assert len(got) == len(set(got)) and set(got) == sent
    doc = summary(out)
    assert doc["accounting"]["requests_started_ok"] == len(started)
    assert doc["accounting"]["frames_received"] == len(sent)
    assert doc["accounting"]["unaccounted"] == 0
