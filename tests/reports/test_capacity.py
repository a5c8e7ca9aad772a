"""reports.capacity: levels cut from one run, gated one by one, the knee found."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness.core.clocks import ClockPlan
from reports import capacity
from reports.gates import Threshold, evaluate
from reports.load import Run, load_run
from reports.performance import Performance
from reports.summary import build_report
from tests.reports.helpers import DEFAULT_THRESHOLDS, MS, T0, RunBuilder, build_summary


SECOND = 1_000 * MS


def stepped_run(root: Path) -> Run:
    """Levels of 2, 4 and 6 users, 4 s each; at 6 users half the starts get 429."""
    build = RunBuilder(root)
    n = 0
    for level, users in enumerate((2, 4, 6)):
        for i in range(users * 2):
            n += 1
            sent = T0 + level * 4 * SECOND + i * 100 * MS
            refused = users == 6 and i % 2
            sid = "" if refused else f"MZ{n}"
            build.request(
                f"req-{n}",
                sent_ns=sent,
                done_ns=sent + 5 * MS,
                due_ns=sent,
                status=429 if refused else 200,
                stream_sid=sid,
                error="HTTP 429: too many" if refused else "",
            )
            if not refused:
                build.stream(
                    sid, f"req-{n}", start_ns=sent + 20 * MS, stop_ns=sent + SECOND
                )
    return load_run(build.write())


SHAPE = {
    "kind": "step",
    "start_ns": T0,
    "levels": [
        {"users": 2, "from_s": 0, "to_s": 4},
        {"users": 4, "from_s": 4, "to_s": 8},
        {"users": 6, "from_s": 8, "to_s": 12},
        {"users": 8, "from_s": 12, "to_s": 16},
    ],
}


def gate(part: Run, _performance: object = None) -> dict[str, Any]:
    requests = part.requests
    ratio = float((requests["status"] != 200).mean()) if len(requests) else None
    summary: dict[str, Any] = {"performance": {"requests": {"error_ratio": ratio}}}
    summary["thresholds"] = evaluate(
        summary,
        [
            Threshold(
                "requests.error_ratio", "performance.requests.error_ratio", "<=", 0.01
            )
        ],
    )
    return summary


def test_a_window_holds_what_started_in_it(tmp_path: Path) -> None:
    run = stepped_run(tmp_path)
    part = capacity.window(run, T0 + 4 * SECOND, T0 + 8 * SECOND)
    assert len(part.requests) == 8 and set(part.requests["request_id"]) == {
        f"req-{n}" for n in range(5, 13)
    }
    assert len(part.streams) == 8


def test_the_search_finds_the_knee(tmp_path: Path) -> None:
    result = capacity.search(stepped_run(tmp_path), SHAPE, gate, require=2)
    assert result["largest_held"] == 4
    assert result["first_broken"] == 6
    assert result["broken_by"] == ["requests.error_ratio"]
    assert [(lv["users"], lv["result"]) for lv in result["levels"]] == [
        (2, "pass"),
        (4, "pass"),
        (6, "fail"),
        (8, "no-data"),
    ]
    assert result["levels"][2]["failed"][0]["value"] == 0.5
    gate_ = capacity.capacity_gate(result)
    assert (gate_["result"], gate_["value"], gate_["limit"]) == ("pass", 4, 2)
    assert gate_["message"] == (
        "largest level that held every gate: 4 users; 6 users broke requests.error_ratio"
    )
    markdown = "\n".join(capacity.render_markdown(result))
    assert "**4 concurrent users held every gate.**" in markdown
    assert (
        "| 3 | 6 | 8.0 | 12.0 | 12 | 6 | - | fail | requests.error_ratio: 0.5 (limit <= 0.01) |"
        in markdown
    )
    assert (
        "Path (steps search, 4 levels; ran to the ceiling): 2 pass -> 4 pass -> 6 fail -> 8 no-data."
        in markdown
    )
    assert (result["held"], result["broke_at"], result["broken_gates"]) == (
        4,
        6,
        ["requests.error_ratio"],
    )
    assert "<h2>Capacity</h2>" in capacity.render_html(result)


def test_a_run_that_never_held_fails_its_requirement(tmp_path: Path) -> None:
    shape = {**SHAPE, "levels": [{"users": 6, "from_s": 8, "to_s": 12}]}
    result = capacity.search(stepped_run(tmp_path), shape, gate, require=2)
    assert result["largest_held"] is None
    assert capacity.capacity_gate(result)["result"] == "fail"


def test_a_window_keeps_the_frames_of_its_streams(tmp_path: Path) -> None:
    build = RunBuilder(tmp_path, batch_rows=9)
    for n, sent in ((1, T0), (2, T0 + 5 * SECOND)):
        build.request(
            f"req-{n}", sent_ns=sent, done_ns=sent + 10 * MS, stream_sid=f"MZ{n}"
        )
        build.stream(
            f"MZ{n}", f"req-{n}", start_ns=sent + 20 * MS, stop_ns=sent + SECOND
        )
        build.media(f"MZ{n}", chunks=10 * n, first_ns=sent + 50 * MS, missing=(3,))
    run = load_run(build.write())
    part = capacity.window(run, T0 + 4 * SECOND, T0 + 8 * SECOND)

    assert (len(part.frames), len(part.sent_frames)) == (19, 20)
    summary = build_summary(part)
    assert summary["accounting"]["frames_received"] == 19
    pcmu = summary["performance"]["codecs"]["PCMU"]
    assert (pcmu["frames"], pcmu["frames_lost"], pcmu["streams"]) == (19, 1, 1)
    assert summary["run"]["duration_s"] == 1.001  # request sent -> stream closed


def mixed_run(root: Path) -> Run:
    """Three levels of streams of two codecs and tracks, with loss, late frames,
    jitter, audio samples, a refused start and a stream no request names."""
    build = RunBuilder(root, batch_rows=97)
    n = 0
    for level, users in enumerate((2, 3, 4)):
        for i in range(users):
            n += 1
            sid, rid = f"MZ{n}", f"req-{n}"
            sent = T0 + level * 4 * SECOND + i * 300 * MS
            codec = "L16@16000h" if n % 3 == 0 else "PCMU"
            if level == 2 and i == 3:
                build.request(rid, sent_ns=sent, done_ns=sent + 9 * MS, status=429)
                continue
            build.request(
                rid,
                sent_ns=sent,
                done_ns=sent + (n + 3) * MS,
                stream_sid=sid,
                codec=codec,
            )
            build.platform_stream(
                sid, rid, codec=codec, frames_sent=40, first_due_ns=sent + 100 * MS
            )
            build.stream(sid, rid, codec=codec, start_ns=sent + (10 + n) * MS,
                         first_media_ns=sent + 110 * MS, stop_ns=sent + 3 * SECOND)  # fmt: skip
            build.request(f"stop-{n}", kind="stop", sent_ns=sent + 3 * SECOND,
                          done_ns=sent + 3 * SECOND + 5 * MS, stream_sid=sid,
                          status=200 if n != 4 else 500)  # fmt: skip
            for track in ("inbound", "outbound") if n % 2 else ("inbound",):
                for chunk in range(1, 41):
                    due = sent + 100 * MS + (chunk - 1) * 20 * MS
                    build.sent(sid, track, chunk, due + (n % 4) * MS)
                    if (chunk * n) % 17 == 5:
                        continue  # lost
                    late = (chunk % 7) * n * 300_000
                    build.frame(sid, track, chunk, due + 2 * MS + late,
                                jitter_ns=float(chunk * n * 1000))  # fmt: skip
                    if chunk % 10 == 1:
                        build.receiver.add(
                            "audio_samples", (sid, track, chunk, codec, b"\x7f" * 160)
                        )
    # frames of a stream nobody asked for, in the second level's time
    build.media("MZ-stray", chunks=20, first_ns=T0 + 5 * SECOND)
    return load_run(build.write())


MIXED = {
    "kind": "step",
    "start_ns": T0,
    "levels": [
        {"users": 2, "from_s": 0, "to_s": 4},
        {"users": 3, "from_s": 4, "to_s": 8},
        {"users": 4, "from_s": 8, "to_s": 12},
        {"users": 5, "from_s": 12, "to_s": 16},
    ],
}


@pytest.mark.parametrize("piece_rows", ["3000000", "150"])
def test_one_pass_gives_every_level_the_numbers_of_its_own_window(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, piece_rows: str
) -> None:
    monkeypatch.setenv("STREAMLOAD_REPORT_PIECE_ROWS", piece_rows)
    run = mixed_run(tmp_path)
    whole, fast = capacity.level_runs(run, MIXED, one_pass=True)
    none, slow = capacity.level_runs(run, MIXED, one_pass=False)
    assert len(fast) == len(slow) == 4 and none is None and whole is not None
    assert (
        build_report(run, DEFAULT_THRESHOLDS, whole).summary
        == build_report(run, DEFAULT_THRESHOLDS).summary
    )
    for (part, performance), (reference, none) in zip(fast, slow, strict=True):
        assert performance is not None and none is None
        one = build_report(part, DEFAULT_THRESHOLDS, performance).summary
        each = build_report(reference, DEFAULT_THRESHOLDS).summary
        assert one == each
    frames = [build_report(p, DEFAULT_THRESHOLDS, f).summary for p, f in fast[:3]]
    assert [s["accounting"]["frames_received"] for s in frames] == [112, 188, 152]
    assert frames[2]["performance"]["requests"]["by_kind"]["start"]["errors"] == 1

    def gated(part: Run, performance: Performance | None) -> dict[str, Any]:
        return build_report(part, DEFAULT_THRESHOLDS, performance).summary

    one_pass = capacity.search(run, MIXED, gated, 2)
    per_level = capacity.search(run, MIXED, gated, 2, one_pass=False)
    assert one_pass == per_level
    assert [lv["result"] for lv in one_pass["levels"]][-1] == "no-data"


def test_levels_are_placed_on_the_clock_the_records_are_compared_on() -> None:
    """Records of several hosts are on the wall clock: so are the levels' windows
    (the shape's ``start_wall_ns``); on one host, the master's monotonic start."""
    shape = {"start_ns": 5 * MS, "start_wall_ns": T0 * 1000}
    several = ClockPlan(hosts=2, offsets={"scenario-1": 1})
    assert capacity.shape_start_ns(shape, several) == T0 * 1000
    assert capacity.shape_start_ns(shape, ClockPlan()) == 5 * MS
    assert capacity.shape_start_ns({"start_ns": 5 * MS}, several) == 5 * MS
