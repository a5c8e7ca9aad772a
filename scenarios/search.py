"""A driven capacity search: levels that wait for the judge's verdicts.

The load shape (:mod:`scenarios.shapes`) runs one when the profile's capacity
search stops at the knee or searches adaptively (:mod:`harness.core.knee`). Kept
apart from the shapes so it runs (and is tested) without Locust: it reads and
writes two files of the run directory, nothing else.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any

from harness.core.knee import Plan
from harness.core.profiles.profile import ShapeSpec


__all__ = ["LIVE_FILE", "Search", "write_levels"]

log = logging.getLogger("scenarios.shapes")


def write_levels(
    run_dir: Path,
    spec: ShapeSpec,
    users: int,
    duration_s: float,
    start_ns: int,
    **driven: Any,
) -> None:
    """Record the shape's levels with the monotonic time the shape started, and the
    same instant on the wall clock (``start_wall_ns``: the clock a report of
    several hosts compares records on, see harness/core/clocks.py).

    ``driven``: a capacity search's own ``levels`` (those run so far) and what
    it is (``search``, ``stopped``), instead of the spec's ladder.
    """
    doc = {
        "kind": spec.kind,
        "start_ns": start_ns,
        "start_wall_ns": time.time_ns() - (time.monotonic_ns() - start_ns),
        "users": users,
        "duration_s": duration_s,
        "levels": [
            {"users": u, "from_s": a, "to_s": b}
            for u, a, b in spec.levels(users, duration_s)
        ],
        **driven,
    }
    path = run_dir / "shape.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(doc, indent=1), encoding="utf-8")
    os.replace(tmp, path)


LIVE_FILE = "capacity-live.json"
"""The judge's verdicts, level by level (``python -m reports.judge``)."""
_NO_VERDICT_S = 30.0
"""How long past its settle time a level waits for a verdict before it counts as
no-data (a judge that died must not hang the run)."""


class Search:
    """A driven capacity search: each level runs ``every_s``, then holds until the
    judge's verdict on it arrives, then the plan names the next level or stops.

    Only ended levels go to ``shape.json`` (the judge cuts them from there); the
    wait between levels (and, going down, the time the users let go take to
    stop their streams) belongs to none, so what a level holds is what it
    started.
    """

    def __init__(
        self,
        run_dir: Path,
        plan: Plan,
        spec: ShapeSpec,
        users: int,
        duration_s: float,
        start_ns: int,
        settle_s: float = 2.0,
        hold_s: float = 0.0,
    ) -> None:
        self.run_dir, self.plan, self.spec = run_dir, plan, spec
        self.users, self.duration_s, self.start_ns = users, duration_s, start_ns
        self.every_s = spec.every_s
        self.settle_s = settle_s
        self.drain_s = min(hold_s + 1.0, 2 * self.every_s)
        """Going down, how long the users let go stop their streams before the
        level starts (their streams would break the smaller level's limits)."""
        self.levels: list[dict[str, Any]] = []
        self.history: list[tuple[int, str]] = []
        self.current: tuple[int, float] | None = None
        self.waiting: float | None = None
        self.stopped: str | None = None
        self._write()

    def users_at(self, t: float) -> int | None:
        if self.stopped is not None:
            return None
        if self.current is None:
            first = self.plan.next(self.history)
            if first is None:
                self._stop("no level to run")
                return None
            self.current = (first, t)
        users, since = self.current
        if t < since:
            return users  # draining: the level has not started yet
        if self.waiting is None and t >= since + self.every_s:
            self.levels.append({"users": users, "from_s": since, "to_s": t})
            self.waiting = t
            self._write()
        if self.waiting is None:
            return users
        verdict = self._verdict(len(self.levels) - 1)
        if verdict is None and t < self.waiting + self.settle_s + _NO_VERDICT_S:
            return users  # hold while the judge looks at the level that ended
        self.history.append((users, verdict or "no-data"))
        self.levels[-1]["live"] = verdict or "no-data"
        self.waiting = None
        following = self.plan.next(self.history)
        if following is None:
            self._stop(self._why())
            return None
        self.current = (following, t + (self.drain_s if following < users else 0.0))
        self._write()
        return following

    def _why(self) -> str:
        if any(r == "fail" for _, r in self.history):
            return "knee"
        if len(self.history) >= self.plan.max_levels:
            return "levels"
        return "ceiling"

    def _stop(self, why: str) -> None:
        self.stopped = why
        self._write()
        log.warning("streamload: capacity search stopped (%s)", why)

    def _verdict(self, index: int) -> str | None:
        try:
            doc = json.loads((self.run_dir / LIVE_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        for level in doc.get("levels", []) if isinstance(doc, dict) else []:
            if level.get("index") == index:
                return str(level.get("result", "no-data"))
        return None

    def _write(self) -> None:
        plan = self.plan
        try:
            write_levels(
                self.run_dir,
                self.spec,
                self.users,
                self.duration_s,
                self.start_ns,
                levels=self.levels,
                search={
                    "search": plan.search,
                    "confirm": plan.confirm,
                    "stop": plan.stop,
                    "settle_s": self.settle_s,
                },
                stopped=self.stopped,
            )
        except OSError:
            log.exception("streamload: cannot write shape.json")
