"""Load shapes: Locust ``LoadTestShape`` subclasses, each bounded in users and time.

The schedule itself is pure data in :class:`harness.core.profiles.profile.ShapeSpec`; these
classes are how Locust asks for it. Use them from a locustfile of your own::

    from scenarios.shapes import StepShape

    class Steps(StepShape):
        users, duration_s = 50, 300
        spec = ShapeSpec(kind="step", start=10, step=10, every_s=60)

or let ``--sl-profile`` pick the profile's shape through :class:`ProfileShape`,
which ``scenarios/locustfile.py`` uses. Whichever shape runs writes its levels
to ``RUN_DIR/shape.json`` so the report can cut the run at level boundaries
(capacity search).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any, ClassVar

from locust import LoadTestShape

from harness.core.knee import Plan, plan_of
from harness.core.profiles.profile import MAX_DURATION_S, MAX_USERS, ShapeSpec
from scenarios.search import Search, write_levels


__all__ = [
    "BoundedShape",
    "ProfileShape",
    "RampShape",
    "SoakShape",
    "SpikeShape",
    "StepShape",
    "write_levels",
]

log = logging.getLogger("scenarios.shapes")


class BoundedShape(LoadTestShape):
    """A :class:`ShapeSpec` run for ``duration_s`` with at most ``users``."""

    abstract = True
    spec: ClassVar[ShapeSpec] = ShapeSpec()
    users: ClassVar[int] = 10
    duration_s: ClassVar[float] = 60.0
    spawn_rate: ClassVar[float] = 0.0
    """Users started (or stopped) per second; 0 means as fast as the shape asks."""

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._announced = False
        self._search: Search | None = None

    def settings(self) -> tuple[ShapeSpec, int, float, float]:
        """(spec, users, duration, spawn rate) this shape runs with."""
        return self.spec, self.users, self.duration_s, self.spawn_rate

    def tick(self) -> tuple[int, float] | None:
        spec, users, duration_s, spawn_rate = self.settings()
        users = max(0, min(users, MAX_USERS))
        duration_s = min(duration_s, MAX_DURATION_S)
        t = float(self.get_run_time())  # type: ignore[no-untyped-call]
        if not self._announced:
            self._announced = True
            start_ns = time.monotonic_ns() - int(t * 1e9)
            plan = self.plan(users)
            run_dir = self.run_dir()
            if plan is not None and plan.driven and run_dir is not None:
                # its levels are written as they end, never the spec's ladder
                settle_s, hold_s = self.waits()
                self._search = Search(
                    run_dir, plan, spec, users, duration_s, start_ns, settle_s, hold_s
                )
            else:
                self.announce(spec, users, duration_s, start_ns)
        if self._search is not None:
            if t >= duration_s:
                return None
            wanted = self._search.users_at(t)
            if wanted is None:
                return None
            return wanted, spawn_rate if spawn_rate > 0 else float(max(users, 1))
        wanted = spec.users_at(t, users, duration_s)
        if wanted is None:
            return None
        return wanted, spawn_rate if spawn_rate > 0 else float(max(users, 1))

    def announce(
        self, spec: ShapeSpec, users: int, duration_s: float, start_ns: int
    ) -> None:
        """Called once when the shape starts; the profile shape records its levels."""

    def plan(self, users: int) -> Plan | None:
        """The capacity search this shape runs (``None``: the spec's schedule)."""
        return None

    def run_dir(self) -> Path | None:
        """Where ``shape.json`` goes and the judge's verdicts come from."""
        return None

    def waits(self) -> tuple[float, float]:
        """(settle, longest hold) in seconds, for a driven search."""
        return 2.0, 0.0


class RampShape(BoundedShape):
    """From ``spec.start`` users up to ``users`` over ``spec.ramp_s``, then hold."""

    abstract = True
    spec = ShapeSpec(kind="ramp", start=1, ramp_s=30.0)


class StepShape(BoundedShape):
    """``spec.start`` users, then ``+spec.step`` every ``spec.every_s``, up to ``users``."""

    abstract = True
    spec = ShapeSpec(kind="step", start=5, step=5, every_s=30.0)


class SpikeShape(BoundedShape):
    """``spec.base`` users, ``users`` from ``spec.at_s`` for ``spec.length_s``, then back."""

    abstract = True
    spec = ShapeSpec(kind="spike", base=5, at_s=30.0, length_s=30.0)


class SoakShape(BoundedShape):
    """Ramp to ``users`` over ``spec.ramp_s`` and hold them for a long ``duration_s``."""

    abstract = True
    spec = ShapeSpec(kind="soak", ramp_s=60.0)
    duration_s = 4 * 3600.0


class ProfileShape(BoundedShape):
    """The shape of ``--sl-profile``, sized by Locust's ``--users``/``--run-time``.

    With no shape in the profile it is a constant load, which is what Locust
    does without a shape: so the locustfile can always include this class. In
    the web UI, the form's user count is the shape's ceiling.
    """

    abstract = False
    use_common_options = True

    def settings(self) -> tuple[ShapeSpec, int, float, float]:
        env: Any = self.runner.environment if self.runner else None
        ctx = getattr(env, "streamload", None)
        options = getattr(env, "parsed_options", None)
        if ctx is None or options is None:  # no profile: behave like plain Locust
            users = int(getattr(options, "num_users", 1) or 1)
            return ShapeSpec(), users, MAX_DURATION_S, float(users)
        load = ctx.load
        users = int(getattr(options, "num_users", 0) or load.users)
        run_time = getattr(options, "run_time", None)
        if run_time:
            duration = float(run_time)
        elif load.shape.kind != "constant":
            duration = load.duration_s
        else:
            duration = MAX_DURATION_S  # like Locust: until stopped
        spawn = float(getattr(options, "spawn_rate", 0) or load.spawn_rate or users)
        return load.shape, users, duration, spawn

    def announce(
        self, spec: ShapeSpec, users: int, duration_s: float, start_ns: int
    ) -> None:
        run_dir = self.run_dir()
        if run_dir is None:
            return
        try:
            write_levels(run_dir, spec, users, duration_s, start_ns)
        except OSError:
            log.exception("streamload: cannot write shape.json")

    def run_dir(self) -> Path | None:
        env = self.runner.environment if self.runner else None
        options = getattr(env, "parsed_options", None)
        run_dir = getattr(options, "sl_run_dir", "")
        return Path(run_dir) if run_dir else None

    def plan(self, users: int) -> Plan | None:
        env: Any = self.runner.environment if self.runner else None
        ctx = getattr(env, "streamload", None)
        if ctx is None or not ctx.profile.capacity.enabled or self.run_dir() is None:
            return None
        load = ctx.load
        return plan_of(ctx.profile.capacity, load.shape, users, load.duration_s)

    def waits(self) -> tuple[float, float]:
        env: Any = self.runner.environment if self.runner else None
        ctx = getattr(env, "streamload", None)
        if ctx is None:
            return super().waits()
        return float(ctx.profile.capacity.settle_s), float(ctx.load.hold_s[1])
