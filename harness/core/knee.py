"""Capacity search while the run goes: which level comes next, and when to stop.

Pure decisions (no I/O): the load shape (``scenarios/shapes.py``) asks
:meth:`Plan.next` at each level boundary, with the verdicts the judge
(``python -m reports.judge``) wrote so far, and stops starting streams when it
answers ``None``. Only gates over metrics that the producers' flushed records
can show a second after a level ends are judged live (:data:`LIVE_METRICS`);
the report judges every gate again at the end, on every record.

``steps``: ``start``, ``start + step``, ... up to the ceiling (``load.users``).
``adaptive``: grow by ``factor`` until a level breaks, then bisect between
the last level that held and the first that broke, to ``step`` users.
``stop = "knee"`` confirms a first break (``confirm = "next"``: one level up
must break too; ``"repeat"``: the same level again) and then stops;
``"ceiling"`` runs every step whatever breaks.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, Final, Literal


if TYPE_CHECKING:
    from harness.core.profiles.spec import CapacitySpec, ShapeSpec


__all__ = ["LIVE_METRICS", "Plan", "judged_live", "plan_of", "run_time_s"]

LIVE_METRICS: Final = frozenset(
    {
        "requests",
        "setup_ms",
        "first_media_ms",
        "latency_ms",
        "jitter_ms",
        "transit_relative_ms",
        "interarrival_ms",
        "conformance",
    }
)
"""Metrics whose gates the judge applies as soon as a level ends.

REST answers (the scenario flushes every second), per-frame latency and
jitter (receivers and the platform flush every second), setup and first-media
times (a stream's row is written when it closes: streams still open are not
seen yet) and rule failures already recorded. Loss, stop times, accounting,
throughput and the harness's own health need the streams to end (a frame in
flight is not lost), so only the report judges them."""

Verdict = Literal["pass", "fail", "no-data"]
SEARCHES: Final = ("steps", "adaptive")
CONFIRMS: Final = ("next", "repeat")
STOPS: Final = ("knee", "ceiling")


def judged_live(gate_name: str) -> bool:
    """Whether the judge applies this gate (``latency_ms.p99{codec=PCMU}`` etc.)."""
    return gate_name.split("{")[0].split(".")[0] in LIVE_METRICS


@dataclasses.dataclass(frozen=True)
class Plan:
    """One capacity search: its kind, its levels' bounds and when it stops."""

    start: int
    step: int
    ceiling: int
    max_levels: int
    search: Literal["steps", "adaptive"] = "steps"
    confirm: Literal["next", "repeat"] = "next"
    stop: Literal["knee", "ceiling"] = "knee"
    factor: float = 2.0

    @property
    def driven(self) -> bool:
        """Whether levels wait for verdicts (else a fixed ladder, as a step shape)."""
        return self.stop == "knee" or self.search == "adaptive"

    def next(self, history: Sequence[tuple[int, str]]) -> int | None:
        """Users of the next level after ``history`` ((users, verdict) in order),
        or ``None``: stop starting streams."""
        if len(history) >= self.max_levels:
            return None
        if not history:
            return max(1, min(self.start, self.ceiling))
        if self.search == "adaptive":
            return self._adaptive(history)
        return self._steps(history)

    def _up(self, users: int) -> int | None:
        """The next step above ``users`` (``None``: at the ceiling)."""
        if users >= self.ceiling:
            return None
        return min(self.ceiling, users + self.step)

    def _steps(self, history: Sequence[tuple[int, str]]) -> int | None:
        last = history[-1][0]
        if self.stop == "ceiling":
            return self._up(last)
        suspect: int | None = None
        for users, result in history:
            if suspect is None:
                suspect = users if result == "fail" else None
            elif result == "fail":
                return None  # the break is confirmed: the knee is found
            else:
                suspect = None  # it held after all: a blip
        if suspect is not None:
            if self.confirm == "repeat":
                return suspect
            return self._up(suspect) or suspect
        return self._up(last)

    def _adaptive(self, history: Sequence[tuple[int, str]]) -> int | None:
        final = {users: r for users, r in history if r != "no-data"}
        last, result = history[-1]
        fails = [u for u, r in final.items() if r == "fail"]
        if not fails:
            if last >= self.ceiling:
                return None  # the ceiling held
            grown = max(last + self.step, int(last * self.factor))
            return min(self.ceiling, self._on_step(grown))
        first_break = [u for u, r in history if r == "fail"][0]
        repeats = sum(1 for u, _ in history if u == first_break)
        if self.confirm == "repeat" and result == "fail" and repeats == 1:
            return last  # confirm the first break once
        good = max((u for u, r in final.items() if r == "pass"), default=0)
        above = [u for u in fails if u > good]
        if not above or good == 0:
            return None  # nothing held (start lower), or only blips below good
        bad = min(above)
        if bad - good <= self.step:
            return None  # the knee is found: good held, bad broke
        mid = self._on_step(good + (bad - good) // 2)
        if mid <= good:
            mid = good + self.step
        return mid if mid < bad else None

    def _on_step(self, users: int) -> int:
        """``users`` rounded down to the ladder ``start + k x step``."""
        if users <= self.start:
            return self.start
        return self.start + (users - self.start) // self.step * self.step


def run_time_s(duration_s: float, every_s: float, settle_s: float) -> float:
    """Locust's run time for a driven search: the levels, each followed by a wait
    for its verdict (``settle_s`` plus the judge's own time)."""
    levels = max(1, int(duration_s // every_s))
    return duration_s + levels * (settle_s + 3.0)


def plan_of(
    capacity: CapacitySpec, shape: ShapeSpec, users: int, duration_s: float
) -> Plan:
    """The search a profile asks for, within ``users`` and the planned ``duration_s``
    (as many levels as the step shape would run in it)."""
    return Plan(
        start=max(1, shape.start),
        step=max(1, shape.step),
        ceiling=max(1, users),
        max_levels=max(1, int(duration_s // shape.every_s)),
        search=capacity.search,
        confirm=capacity.confirm,
        stop=capacity.stop,
        factor=capacity.factor,
    )
