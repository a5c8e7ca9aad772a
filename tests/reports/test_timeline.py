"""reports.timeline: when requests failed, how many, and what the CLI saw."""

from __future__ import annotations

from pathlib import Path

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
