"""reports.timeline: when requests failed, how many, and what the CLI saw."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from harness.core.clocks import ClockPlan
from reports.load import load_run
from reports.timeline import render_html, render_markdown, timeline
from tests.reports.helpers import MS, T0, RunBuilder


SECOND = 1_000 * MS


def test_a_target_that_dies_midway_gives_one_incident(tmp_path: Path) -> None:
    build = RunBuilder(tmp_path)
    for i in range(100):
        sent = T0 + i * 100 * MS
        dead = i >= 60
        build.request(
            f"req-{i}",
            sent_ns=sent,
            done_ns=sent + 5 * MS,
            status=0 if dead else 200,
            stream_sid="" if dead else f"MZ{i}",
            error="no answer: ConnectionRefusedError" if dead else "",
        )
    run = load_run(build.write())
    events = [
        {
            "at_s": 1.0,
            "mono_ns": T0 + 6 * SECOND,
            "kind": "failure",
            "what": "platform exited early (code -9)",
        },
        {"at_s": 0.5, "mono_ns": T0, "kind": "info", "what": "services ready"},
    ]
    section = timeline(run, {"events": events})
    assert section["bin_s"] == 0.5 and section["failed_requests"] == 40
    (incident,) = section["incidents"]
    assert (incident["from_s"], incident["to_s"], incident["failed"]) == (6.0, 9.9, 40)
    assert incident["statuses"] == {"0": 40} and incident["by_kind"] == {"start": 40}
    assert section["events"][0]["at_s"] == 6.0  # re-based on the first request
    text = "\n".join(render_markdown(section))
    assert (
        "- +6 s to +9.9 s: 40 of 40 requests failed (40 start; no answer x40); "
        "most common: no answer: ConnectionRefusedError"
    ) in text
    assert "- +6 s: platform exited early (code -9)" in text
    assert "services ready" not in text
    assert "ConnectionRefusedError" in render_html(section)


def test_a_clean_run_is_one_line(tmp_path: Path) -> None:
    build = RunBuilder(tmp_path)
    build.good_stream("MZ1", "req-1")
    section = timeline(load_run(build.write()), None)
    assert section["incidents"] == [] and section["failed_requests"] == 0
    assert (
        render_markdown(section)[-1]
        == "No request failed and every service ran to the end."
    )


def test_streams_lost_behind_a_dead_terminator_are_a_span_with_the_platforms_reason(
    tmp_path: Path,
) -> None:
    """Every request answered 200, yet from +3 s no stream reaches a receiver."""
    build = RunBuilder(tmp_path)
    refused = (
        "ConnectionRefusedError: [Errno 111] Connect call failed ('198.18.0.2', 443)"
    )
    for i in range(10):
        sid, sent = f"MZ{i}", T0 + i * SECOND
        build.request(f"req-{i}", stream_sid=sid, sent_ns=sent, done_ns=sent + 5 * MS)
        if i < 3:  # arrived and stopped
            build.stream(
                sid, f"req-{i}", start_ns=sent + 50 * MS, stop_ns=sent + 900 * MS
            )
        elif i == 3:  # arrived, then the socket was cut at +3.5 s without a stop
            build.stream(
                sid, f"req-{i}", start_ns=sent + 50 * MS, stop_ns=0,
                closed_ns=sent + 500 * MS,
            )  # fmt: skip
        else:  # the platform could not dial the receiver any more
            build.platform_stream(
                sid, f"req-{i}", end_reason="connect-failed", error=refused
            )
    section = timeline(load_run(build.write()), None)
    assert section["incidents"] == [] and section["failed_requests"] == 0
    assert section["lost_streams"] == 7
    (span,) = section["stream_incidents"]
    assert (span["from_s"], span["to_s"], span["streams"]) == (3.5, 9.005, 7)
    assert span["by_what"] == {"never reached a receiver": 6, "cut before stop": 1}
    assert span["top_reason"] == f"connect-failed: {refused}"
    text = "\n".join(render_markdown(section))
    assert (
        "- +3.5 s to +9.005 s: 7 started stream(s) lost (6 never reached a receiver, "
        "1 cut before stop); the platform's most common reason: connect-failed: "
        "ConnectionRefusedError"
    ) in text
    assert "No request failed" not in text
    assert "connect-failed" in render_html(section)


def test_a_stream_that_arrived_in_between_splits_the_lost_ones(tmp_path: Path) -> None:
    build = RunBuilder(tmp_path)
    for i in range(5):
        sid, sent = f"MZ{i}", T0 + i * SECOND
        build.request(f"req-{i}", stream_sid=sid, sent_ns=sent, done_ns=sent)
        if i == 2:
            build.stream(sid, f"req-{i}", start_ns=sent + MS, stop_ns=sent + 2 * MS)
    spans = timeline(load_run(build.write()), None)["stream_incidents"]
    assert [(s["from_s"], s["to_s"], s["streams"]) for s in spans] == [
        (0.0, 1.0, 2),
        (3.0, 4.0, 2),
    ]
    assert all(s["top_reason"] == "" for s in spans)  # no platform records: no reason


def test_events_of_a_run_across_hosts_are_placed_by_their_wall_time(
    tmp_path: Path,
) -> None:
    """Records of several hosts are on the wall clock, so the CLI's events are
    placed by their wall time; one without keeps the CLI's own ``at_s``."""
    build = RunBuilder(tmp_path)
    build.request("req-1", sent_ns=T0)
    run = dataclasses.replace(
        load_run(build.write()), clock=ClockPlan(hosts=2, offsets={"scenario-1": 0})
    )
    events = [
        {"at_s": 9.0, "mono_ns": 5, "wall_ns": T0 + 2 * SECOND, "what": "a"},
        {"at_s": 7.0, "mono_ns": 5, "what": "b"},
    ]
    doc = timeline(run, {"events": events})
    assert [e["at_s"] for e in doc["events"]] == [2.0, 7.0]
