"""reports.capacity: levels cut from one run, gated one by one, the knee found."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reports import capacity
from reports.gates import Threshold, evaluate
from reports.load import Run, load_run
from reports.summary import build_summary
from tests.reports.helpers import MS, T0, RunBuilder


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


def gate(part: Run) -> list[dict[str, Any]]:
    requests = part.requests
    ratio = float((requests["status"] != 200).mean()) if len(requests) else None
    summary = {"performance": {"requests": {"error_ratio": ratio}}}
    return evaluate(
        summary,
        [
            Threshold(
                "requests.error_ratio", "performance.requests.error_ratio", "<=", 0.01
            )
        ],
    )


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
        "| 6 | 8 | 12 | 12 | 6 | fail | requests.error_ratio: 0.5 (limit <= 0.01) |"
        in markdown
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
