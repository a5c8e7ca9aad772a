"""A guarded budget in a real run: a cap stops new starts, and the report says so."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.runs import streamload, table


pytestmark = pytest.mark.e2e


def test_max_streams_starts_exactly_that_many_and_the_report_says_so(
    tmp_path: Path,
) -> None:
    out = tmp_path / "capped"
    done = streamload(
        "run", "--profile", "smoke", "--users", "3", "--duration", "20s",
        "--hold", "0.2", "--wait", "0", "--bearer-token", "on",
        "--max-streams", "5", "--out", str(out),
    )  # fmt: skip
    assert done.returncode in (0, 1), done.stderr
    starts = [  # the negative suite's two valid starts are outside the cap
        r
        for r in table(out, "requests")
        if r["kind"] == "start" and r["request_id"].startswith("scenario-")
    ]
    assert len(starts) == 5
    served = table(out, "platform_streams")  # the negative suite's are its own
    assert len([s for s in served if s["request_id"].startswith("scenario-")]) == 5
    run = json.loads((out / "run.json").read_text())
    assert run["budget"]["reached"] == "max_streams"
    assert run["budget"]["max_streams"] == 5
    events = [e for e in run["events"] if e.get("budget")]
    assert [e["what"] for e in events] == [
        "budget reached (max_streams: 5 streams); new stream starts stopped"
    ]
    first_section = (out / "report.md").read_text().split("\n## ")[0]
    assert (
        "budget reached (max_streams: 5 streams): new stream starts stopped"
        in first_section
    )


def test_a_cap_not_reached_is_not_reported_as_reached(tmp_path: Path) -> None:
    out = tmp_path / "roomy"
    done = streamload(
        "run", "--profile", "smoke", "--users", "2", "--duration", "3s",
        "--hold", "0.5", "--bearer-token", "on", "--max-streams", "1000",
        "--out", str(out),
    )  # fmt: skip
    assert done.returncode in (0, 1), done.stderr
    run = json.loads((out / "run.json").read_text())
    assert run["budget"] == {
        "max_streams": 1000,
        "max_stream_minutes": 0.0,
        "reached": None,
        "processes_stopped": 0,
    }
    assert "budget reached" not in (out / "report.md").read_text()
