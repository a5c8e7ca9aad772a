"""scenarios.search: a driven capacity search, tick by tick, against verdict files."""

from __future__ import annotations

import json
from pathlib import Path

from harness.core.knee import Plan
from harness.core.profiles.profile import ShapeSpec
from scenarios.search import LIVE_FILE, Search


def verdict(root: Path, *results: str) -> None:
    levels = [{"index": i, "result": r} for i, r in enumerate(results)]
    (root / LIVE_FILE).write_text(json.dumps({"levels": levels}))


def test_levels_wait_for_verdicts_and_the_search_stops_at_the_knee(
    tmp_path: Path,
) -> None:
    spec = ShapeSpec(kind="step", start=2, step=2, every_s=10.0)
    plan = Plan(start=2, step=2, ceiling=10, max_levels=5, search="adaptive")
    search = Search(tmp_path, plan, spec, 10, 50.0, 123, settle_s=2.0, hold_s=1.0)
    shape = lambda: json.loads((tmp_path / "shape.json").read_text())  # noqa: E731
    assert shape()["levels"] == [] and shape()["search"]["search"] == "adaptive"

    assert search.users_at(0.0) == 2
    assert search.users_at(10.0) == 2  # ended: held until its verdict
    assert [lv["users"] for lv in shape()["levels"]] == [2]
    assert search.users_at(13.0) == 2
    verdict(tmp_path, "pass")
    assert search.users_at(14.0) == 4  # grows x2
    assert search.users_at(24.0) == 4
    verdict(tmp_path, "pass", "pass")
    assert search.users_at(25.0) == 8
    assert search.users_at(35.0) == 8
    verdict(tmp_path, "pass", "pass", "fail")
    assert search.users_at(36.0) == 6  # bisect, going down: drains first
    assert search.current == (6, 36.0 + search.drain_s)
    assert search.users_at(36.0 + search.drain_s + 10) == 6
    verdict(tmp_path, "pass", "pass", "fail", "fail")
    assert search.users_at(60.0) is None  # 4 held, 6 broke: the knee
    assert search.users_at(61.0) is None
    doc = shape()
    assert doc["stopped"] == "knee"
    assert [(lv["users"], lv["live"]) for lv in doc["levels"]] == [
        (2, "pass"), (4, "pass"), (8, "fail"), (6, "fail")
    ]  # fmt: skip


def test_a_level_without_a_verdict_counts_as_no_data(tmp_path: Path) -> None:
    spec = ShapeSpec(kind="step", start=1, step=1, every_s=5.0)
    plan = Plan(start=1, step=1, ceiling=3, max_levels=10)
    search = Search(tmp_path, plan, spec, 3, 30.0, 0)
    assert search.users_at(0.0) == 1
    assert search.users_at(5.0) == 1
    assert search.users_at(20.0) == 1  # the judge may still come
    assert search.users_at(5.0 + search.settle_s + 31) == 2
    assert search.history == [(1, "no-data")]
