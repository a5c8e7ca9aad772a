"""What a profile is: the load, the request matrix, the gates and the report options.

Plain frozen data with the limits every profile stays within. Reading and
checking a TOML file is :mod:`harness.core.profiles.reader`; :mod:`harness.core.profiles.profile`
is the entry point (load a built-in or a file, apply flags).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Final, Literal

from harness.core.codecs import CODEC_NAMES
from harness.core.errors import ConfigError
from harness.core.profiles.thresholds import ThresholdSpec, parse_threshold


__all__ = [
    "BUILTIN",
    "DIMENSIONS",
    "MAX_DURATION_S",
    "MAX_PARAMS",
    "MAX_PROCESSES",
    "MAX_RATE",
    "MAX_USERS",
    "MAX_WEIGHT",
    "BudgetSpec",
    "CapacitySpec",
    "ConformanceSpec",
    "Load",
    "MatrixSpec",
    "PlatformSpec",
    "Profile",
    "ProfileError",
    "ReportSpec",
    "ShapeSpec",
]

Json = dict[str, Any]

MAX_USERS: Final = 10_000
"""No profile may ask for more concurrent users (or streams) than this."""
MAX_DURATION_S: Final = 7 * 24 * 3600.0
MAX_RATE: Final = 10_000.0
MAX_WEIGHT: Final = 1_000
MAX_PROCESSES: Final = 64
MAX_PARAMS: Final = 98
"""Custom parameters per request: 99 slots, one carries the correlation parameter."""

BUILTIN: Final = ("default", "smoke", "nightly", "capacity", "codec-compare", "conform")


class ProfileError(ConfigError):
    """A profile mistake: ``file:line: key: problem; fix``."""

    def __init__(self, source: str, line: int, key: str, problem: str, fix: str):
        where = f"{source}:{line}" if line else source
        super().__init__(f"{where}: {key}" if key else where, problem, fix)
        self.source = source
        self.line = line
        self.key = key


@dataclasses.dataclass(frozen=True, slots=True)
class ShapeSpec:
    """Users over time; every shape stays within ``users`` and ``duration``.

    ``ramp``: from ``start`` to ``users`` over ``ramp_s``, then hold.
    ``step``: ``start``, then ``+step`` every ``every_s``, capped at ``users``.
    ``spike``: ``base`` users, ``users`` for ``length_s`` from ``at_s``, ``base`` again.
    ``soak``: a ramp over ``ramp_s`` to ``users``, held for a long ``duration``.
    """

    kind: Literal["constant", "ramp", "step", "spike", "soak"] = "constant"
    start: int = 1
    step: int = 1
    every_s: float = 10.0
    ramp_s: float = 0.0
    base: int = 1
    at_s: float = 0.0
    length_s: float = 0.0

    def users_at(self, t: float, users: int, duration_s: float) -> int | None:
        """Users wanted ``t`` seconds in; ``None`` once the run is over."""
        if t >= duration_s:
            return None
        match self.kind:
            case "step":
                level = self.start + self.step * int(t // self.every_s)
                return max(0, min(users, level))
            case "ramp" | "soak":
                if self.ramp_s <= 0 or t >= self.ramp_s:
                    return users
                start = min(self.start, users) if self.kind == "ramp" else 0
                return start + int((users - start) * t / self.ramp_s)
            case "spike":
                inside = self.at_s <= t < self.at_s + self.length_s
                return users if inside else min(self.base, users)
            case _:
                return users

    def levels(self, users: int, duration_s: float) -> list[tuple[int, float, float]]:
        """(users, from_s, to_s) per level of a ``step`` shape, in order."""
        if self.kind != "step":
            return [(users, 0.0, duration_s)]
        out: list[tuple[int, float, float]] = []
        t = 0.0
        while t < duration_s:
            level = self.users_at(t, users, duration_s) or 0
            end = min(duration_s, t + self.every_s)
            if out and out[-1][0] == level:
                out[-1] = (level, out[-1][1], end)
            else:
                out.append((level, t, end))
            t = end
        return out


@dataclasses.dataclass(frozen=True, slots=True)
class Load:
    model: Literal["closed", "open"] = "closed"
    users: int = 10
    """Closed: concurrent users. Open: the most streams in flight at once."""
    rate: float = 0.0
    """Open model: stream starts per second, all processes together."""
    spawn_rate: float = 0.0
    """Users started per second; 0 means all at once."""
    duration_s: float = 30.0
    hold_s: tuple[float, float] = (1.0, 3.0)
    wait_s: tuple[float, float] = (0.05, 0.25)
    """Closed model: pause between a stop and the next start."""
    conferences: int = 3
    processes: int = 1
    """Locust worker processes on this machine (1: no master)."""
    receivers: int = 1
    """Receiver processes sharing one port."""
    shape: ShapeSpec = ShapeSpec()


DIMENSIONS: Final[dict[str, tuple[str, ...]]] = {
    "codecs": tuple(CODEC_NAMES),
    "tracks": ("inbound_track", "outbound_track", "both_tracks"),
    "params": tuple(str(n) for n in range(MAX_PARAMS + 1)),
    "param_size": ("short", "long"),
    "real_time": ("omit", "true", "false"),
    "bearer_token": ("on", "off"),
    "status_callback": ("off", "on"),
    "stop_by": ("sid", "name"),
}
"""The request space: each dimension's allowed values, as strings."""


@dataclasses.dataclass(frozen=True, slots=True)
class MatrixSpec:
    """Values per dimension (:data:`DIMENSIONS` order) and their weights."""

    values: dict[str, tuple[str, ...]]
    weights: dict[str, dict[str, int]]

    def weight(self, dimension: str, value: str) -> int:
        return self.weights.get(dimension, {}).get(value, 1)


@dataclasses.dataclass(frozen=True, slots=True)
class ConformanceSpec:
    gate: bool = True
    """Fail the run when an error-severity rule fails."""
    allow: tuple[str, ...] = ()
    """Rules reported but never gated (known platform deviations)."""
    negative: bool = False
    """Also run the negative suite (invalid requests) once per run."""
    require: str | tuple[str, ...] = "none"
    """Rules that must be checked: ``"all"``, ``"none"`` or rule ids. A required
    rule the run's matrix and dialect could exercise but nothing checked fails
    the run (``reports.coverage``)."""

    def requirement(self) -> str:
        """``require`` in words, for ``streamload check``."""
        if self.require == "all":
            return (
                "all (every rule the matrix and dialect can exercise must be checked)"
            )
        if self.require == "none" or not self.require:
            return "none (unchecked rules are listed, not gated)"
        return ", ".join(self.require)


@dataclasses.dataclass(frozen=True, slots=True)
class CapacitySpec:
    enabled: bool = False
    require: int = 1
    """The run fails unless at least this many users held every gate."""
    stop: Literal["knee", "ceiling"] = "knee"
    """``knee``: stop starting streams once a break is confirmed; ``ceiling``: run
    every step (the levels are judged only in the report)."""
    confirm: Literal["next", "repeat"] = "next"
    """How a first break is confirmed: one level up, or the same level again."""
    search: Literal["steps", "adaptive"] = "steps"
    """``steps``: the shape's ladder; ``adaptive``: grow by ``factor``, then bisect."""
    factor: float = 2.0
    """Adaptive search: each level this many times the last while none broke."""
    settle_s: float = 2.0
    """After a level ends, how long the judge waits for the producers to flush."""


@dataclasses.dataclass(frozen=True, slots=True)
class BudgetSpec:
    """Caps on what a run may start: a real space bills by the stream minute.

    Reaching a cap stops new starts (streams already open run their hold);
    the report says which cap was reached. 0 means no cap.
    """

    max_streams: int = 0
    """Streams a run may start, all Locust processes together."""
    max_stream_minutes: float = 0.0
    """Stream minutes a run may start, counting each stream's drawn hold."""


@dataclasses.dataclass(frozen=True, slots=True)
class ReportSpec:
    codec_compare: bool = False
    """Lay codecs side by side against ``baseline`` in the report."""
    baseline: str = "PCMU"
    band: float = 0.2
    """Relative noise band for codec and run comparisons."""


@dataclasses.dataclass(frozen=True, slots=True)
class PlatformSpec:
    """Options for the embedded reference platform (ignored with a real target)."""

    faults: tuple[str, ...] = ()
    defects: tuple[str, ...] = ()
    seed: int | None = None
    processes: int = 1
    """Platform processes sharing the streams, e.g. one per core (``--workers``)."""


@dataclasses.dataclass(frozen=True, slots=True)
class Profile:
    name: str
    source: str
    description: str
    load: Load
    matrix: MatrixSpec
    thresholds: dict[str, tuple[str, ...]]
    """Key -> conditions as declared (compiled on demand, see :meth:`gates`)."""
    conformance: ConformanceSpec
    capacity: CapacitySpec
    report: ReportSpec
    platform: PlatformSpec
    threshold_sources: dict[str, str] = dataclasses.field(default_factory=dict)
    """Key -> where it was declared (``nightly.toml:12``, ``smoke (built-in):23``)."""
    budget: BudgetSpec = BudgetSpec()

    def gates(self) -> list[ThresholdSpec]:
        """Every threshold compiled, in declaration order."""
        return [
            parse_threshold(
                key, expr, source=self.threshold_sources.get(key, self.source)
            )
            for key, exprs in self.thresholds.items()
            for expr in exprs
        ]

    def document(self) -> Json:
        """This profile as a document :func:`parse_profile` reads back unchanged."""
        load = self.load
        shape = load.shape
        doc: Json = {
            "name": self.name,
            "extends": "none",
            "description": self.description,
            "load": {
                "model": load.model,
                "users": load.users,
                "rate": load.rate,
                "spawn_rate": load.spawn_rate,
                "duration": load.duration_s,
                "hold": list(load.hold_s),
                "wait": list(load.wait_s),
                "conferences": load.conferences,
                "processes": load.processes,
                "receivers": load.receivers,
            },
            "shape": {
                f.name.removesuffix("_s"): getattr(shape, f.name)
                for f in dataclasses.fields(shape)
            },
            "matrix": {
                **{k: list(v) for k, v in self.matrix.values.items()},
                "weights": {k: dict(v) for k, v in self.matrix.weights.items() if v},
            },
            "thresholds": {k: list(v) for k, v in self.thresholds.items()},
            "sources": {
                k: v for k, v in self.threshold_sources.items() if k in self.thresholds
            },
            "conformance": dataclasses.asdict(self.conformance),
            "capacity": {
                f.name.removesuffix("_s"): getattr(self.capacity, f.name)
                for f in dataclasses.fields(self.capacity)
            },
            "report": dataclasses.asdict(self.report),
            "budget": dataclasses.asdict(self.budget),
            "platform": {
                "faults": list(self.platform.faults),
                "defects": list(self.platform.defects),
                "processes": self.platform.processes,
                **(
                    {"seed": self.platform.seed}
                    if self.platform.seed is not None
                    else {}
                ),
            },
        }
        if not doc["matrix"]["weights"]:
            del doc["matrix"]["weights"]
        doc["conformance"]["allow"] = list(self.conformance.allow)
        require = self.conformance.require
        doc["conformance"]["require"] = (
            require if isinstance(require, str) else list(require)
        )
        return doc
