"""Impairments on demand: ``--fault NAME=VALUE``, seeded, for a platform that misbehaves realistically.

Impairments are the random faults of a real network and a real platform, as
opposed to the deterministic contract defects of :mod:`harness.platform.core.defects`.
Every random draw comes from a :class:`random.Random` seeded from ``--seed`` and
the stream's ordinal, so a run with the same seed and the same requests makes
the same draws. What each one does:

=============== ================ ==================================================
name            value            effect
=============== ================ ==================================================
``delay``       ``5ms``          every frame reaches the socket that much later
``jitter``      ``[DIST:]2ms``   plus a random delay per frame: ``uniform`` 0..2 ms
                                 (the default), ``normal`` \\|N(0, 2 ms)\\|,
                                 ``exponential`` with a 2 ms mean
``loss``        ``0.01``         per frame: never written
``duplicate``   ``0.005``        per frame: written twice
``reorder``     ``0.005``        per frame: swapped with the next frame of its track
``stall``       ``0.001:200ms``  per frame: the stream's socket stalls that long
``disconnect``  ``0.01[:5s]``    per stream: the socket is dropped without ``stop``
                                 at a chunk drawn uniformly within the first 5 s
``start-delay`` ``500ms``        every stream dials its receiver that much later
``start-fail``  ``0.05``         per stream: it never connects (``stream-error``)
``api-error``   ``0.01``         per create/stop request: HTTP 500 or 503
``api-latency`` ``50ms``         every REST answer is that much slower
=============== ================ ==================================================

The network ones act between the media pipeline and the socket (see
:mod:`harness.platform.core.network`); the others in the streamer and the REST app.
"""

from __future__ import annotations

import dataclasses
import random
import re
from collections.abc import Iterable
from typing import Final, Literal

from harness.core.codecs import FRAME_NS
from harness.core.errors import ConfigError


__all__ = [
    "FAULT_NAMES",
    "Faults",
    "Jitter",
    "StreamPlan",
    "format_duration",
    "parse_duration",
    "parse_faults",
    "plan_stream",
    "stream_rng",
]

JitterShape = Literal["uniform", "normal", "exponential"]

FAULT_NAMES: Final[dict[str, str]] = {
    "delay": "5ms",
    "jitter": "2ms, uniform:2ms, normal:2ms or exponential:2ms",
    "loss": "0.01",
    "duplicate": "0.005",
    "reorder": "0.005",
    "stall": "0.001:200ms",
    "disconnect": "0.01 or 0.01:5s",
    "start-delay": "500ms",
    "start-fail": "0.05",
    "api-error": "0.01",
    "api-latency": "50ms",
}
"""Every impairment ``--fault`` accepts, with an example value."""

_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|ms|s)")
_UNIT_NS: Final = {"ns": 1, "us": 1_000, "ms": 1_000_000, "s": 1_000_000_000}
_DISCONNECT_WITHIN_NS: Final = 5_000_000_000


def parse_duration(text: str) -> int | None:
    """``"5ms"`` to nanoseconds; ``None`` if it is not a number with a unit."""
    m = _DURATION.fullmatch(text.strip())
    if m is None:
        return None
    return round(float(m.group(1)) * _UNIT_NS[m.group(2)])


def format_duration(ns: int) -> str:
    """Nanoseconds in the shortest exact unit, the inverse of :func:`parse_duration`."""
    for unit in ("s", "ms", "us"):
        if ns and ns % _UNIT_NS[unit] == 0:
            return f"{ns // _UNIT_NS[unit]}{unit}"
    return f"{ns}ns"


@dataclasses.dataclass(frozen=True, slots=True)
class Jitter:
    """A random extra delay per frame."""

    shape: JitterShape
    scale_ns: int

    def sample(self, rng: random.Random) -> int:
        """Draw one extra delay, never negative."""
        if self.shape == "uniform":
            return int(rng.random() * self.scale_ns)
        if self.shape == "normal":
            return int(abs(rng.gauss(0.0, self.scale_ns)))
        return int(rng.expovariate(1.0 / self.scale_ns))

    def __str__(self) -> str:
        return f"{self.shape}:{format_duration(self.scale_ns)}"


@dataclasses.dataclass(frozen=True, slots=True)
class Faults:
    """The active impairments; all zero means none."""

    delay_ns: int = 0
    jitter: Jitter | None = None
    loss: float = 0.0
    duplicate: float = 0.0
    reorder: float = 0.0
    stall: float = 0.0
    stall_ns: int = 0
    disconnect: float = 0.0
    disconnect_within_ns: int = _DISCONNECT_WITHIN_NS
    start_delay_ns: int = 0
    start_fail: float = 0.0
    api_error: float = 0.0
    api_latency_ns: int = 0

    @property
    def network(self) -> bool:
        """Whether frames go through the emulated network at all (the hot path skips it)."""
        return bool(
            self.delay_ns
            or self.jitter
            or self.loss
            or self.duplicate
            or self.reorder
            or self.stall
        )

    def describe(self) -> dict[str, str]:
        """The active impairments as ``{name: value}``, in ``--fault`` spelling."""
        out: dict[str, str] = {}
        if self.delay_ns:
            out["delay"] = format_duration(self.delay_ns)
        if self.jitter is not None:
            out["jitter"] = str(self.jitter)
        for name, p in (
            ("loss", self.loss),
            ("duplicate", self.duplicate),
            ("reorder", self.reorder),
        ):
            if p:
                out[name] = repr(p)
        if self.stall:
            out["stall"] = f"{self.stall!r}:{format_duration(self.stall_ns)}"
        if self.disconnect:
            within = format_duration(self.disconnect_within_ns)
            out["disconnect"] = f"{self.disconnect!r}:{within}"
        if self.start_delay_ns:
            out["start-delay"] = format_duration(self.start_delay_ns)
        if self.start_fail:
            out["start-fail"] = repr(self.start_fail)
        if self.api_error:
            out["api-error"] = repr(self.api_error)
        if self.api_latency_ns:
            out["api-latency"] = format_duration(self.api_latency_ns)
        return out


def _bad(name: str, value: str) -> ConfigError:
    return ConfigError(
        "--fault",
        f"{name}={value!r} is not valid",
        f"use e.g. {name}={FAULT_NAMES[name].split(' or ')[0].split(', ')[0]}",
    )


def _probability(name: str, text: str) -> float:
    try:
        p = float(text)
    except ValueError:
        raise _bad(name, text) from None
    if not 0.0 <= p <= 1.0:
        raise _bad(name, text)
    return p


def _duration(name: str, text: str, whole: str) -> int:
    ns = parse_duration(text)
    if ns is None:
        raise _bad(name, whole)
    return ns


def parse_faults(specs: Iterable[str]) -> Faults:
    """Parse ``--fault NAME=VALUE`` options into one :class:`Faults`.

    Raises:
        ConfigError: an unknown name, a malformed value or a name given twice.
    """
    fields: dict[str, object] = {}
    seen: set[str] = set()
    for spec in specs:
        name, eq, value = spec.partition("=")
        name = name.strip()
        if name not in FAULT_NAMES:
            raise ConfigError(
                "--fault",
                f"unknown impairment {name!r}",
                f"use NAME=VALUE with NAME one of {', '.join(FAULT_NAMES)}",
            )
        if not eq:
            raise _bad(name, value)
        if name in seen:
            raise ConfigError(
                "--fault", f"{name} is given twice", "give each impairment once"
            )
        seen.add(name)
        value = value.strip()
        match name:
            case "delay" | "start-delay" | "api-latency":
                key = {
                    "delay": "delay_ns",
                    "start-delay": "start_delay_ns",
                    "api-latency": "api_latency_ns",
                }[name]
                fields[key] = _duration(name, value, value)
            case "jitter":
                shape, colon, amount = value.rpartition(":")
                shape = shape if colon else "uniform"
                if shape not in ("uniform", "normal", "exponential"):
                    raise _bad(name, value)
                scale = _duration(name, amount, value)
                if scale <= 0:
                    raise _bad(name, value)
                fields["jitter"] = Jitter(shape, scale)  # type: ignore[arg-type]
            case "stall":
                p, colon, length = value.partition(":")
                if not colon:
                    raise _bad(name, value)
                fields["stall"] = _probability(name, p)
                fields["stall_ns"] = _duration(name, length, value)
            case "disconnect":
                p, colon, within = value.partition(":")
                fields["disconnect"] = _probability(name, p)
                if colon:
                    ns = _duration(name, within, value)
                    if ns < FRAME_NS:
                        raise _bad(name, value)
                    fields["disconnect_within_ns"] = ns
            case _:
                fields[name.replace("-", "_")] = _probability(name, value)
    return Faults(**fields)  # type: ignore[arg-type]


def stream_rng(seed: int, ordinal: int) -> random.Random:
    """The random source of the ``ordinal``-th stream of a run (string seeds are stable)."""
    return random.Random(f"streamload/{seed}/{ordinal}")


@dataclasses.dataclass(frozen=True, slots=True)
class StreamPlan:
    """The per-stream draws, made once when the stream is accepted."""

    start_delay_ns: int = 0
    start_fails: bool = False
    disconnect_chunk: int = 0
    """The chunk at which the socket is dropped; 0 for never."""


def plan_stream(faults: Faults, rng: random.Random) -> StreamPlan:
    """Draw what happens to one stream as a whole (always the same number of draws)."""
    fails = rng.random() < faults.start_fail
    drops = rng.random() < faults.disconnect
    last = max(1, faults.disconnect_within_ns // FRAME_NS)
    chunk = rng.randint(1, last)
    return StreamPlan(
        start_delay_ns=faults.start_delay_ns,
        start_fails=fails,
        disconnect_chunk=chunk if drops else 0,
    )
