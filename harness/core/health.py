"""A producer's own health: CPU use, event-loop lag and GC pauses, one row a second.

On the 2-core reference machine a receiver's added latency stays near 2-3 ms
up to about 90 % CPU and jumps to 20-50 ms within the next 10 % of load
(docs/performance.md §2); a sender stalls now and then on timers and garbage
collection (§3). So every producer measures itself beside the frames, and a
report can mark a run whose harness was saturated instead of blaming the
platform for the delay.

Pure: the shell reads the clocks and feeds them in (time is an argument).
A shell wires three things: a periodic probe that reports how late it woke
(:meth:`HealthWindow.lag`), ``gc.callbacks`` calling :meth:`HealthWindow.gc`
with a clock reading, and once a second :meth:`HealthWindow.row` with the CPU
times. :mod:`harness.io.health` is that asyncio shell, shared by the receivers
and the reference platform; :func:`figures` reads a row back for a stats line.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, NamedTuple

from harness.core.histogram import Histogram


__all__ = [
    "CPU_SATURATED",
    "LAG_METRIC",
    "LAG_P99_SATURATED_NS",
    "Figures",
    "HealthWindow",
    "figures",
]

CPU_SATURATED: Final = 0.85
"""Share of one core above which a loop's added latency is no longer its own
few milliseconds but queueing (docs/performance.md §2: the cliff sits near 90 %)."""
LAG_P99_SATURATED_NS: Final = 5_000_000
"""Event-loop lag p99 above which a producer's timestamps carry its own delay."""
LAG_METRIC: Final = "loop_lag_ns"
"""The ``histograms`` metric under which the lag probes are also kept."""


class HealthWindow:
    """Accumulate one interval's lag probes and GC pauses; emit ``health`` rows.

    Args:
        producer: the producer's name in records.
        kind: ``receiver`` or ``platform``.
        start_ns: the start of the first interval (CLOCK_MONOTONIC).
        cpu_ns: the process CPU time at ``start_ns``.
        loop_cpu_ns: the event-loop thread's CPU time at ``start_ns``.
    """

    __slots__ = (
        "_cpu",
        "_gc_started",
        "_lags",
        "_loop_cpu",
        "_start",
        "gc_max_ns",
        "gc_pauses",
        "gc_total_ns",
        "kind",
        "lag_histogram",
        "producer",
    )

    def __init__(
        self, producer: str, kind: str, start_ns: int, cpu_ns: int, loop_cpu_ns: int
    ) -> None:
        self.producer = producer
        self.kind = kind
        self._start = start_ns
        self._cpu = cpu_ns
        self._loop_cpu = loop_cpu_ns
        self._lags: list[int] = []
        self._gc_started = 0
        self.gc_pauses = 0
        self.gc_total_ns = 0
        self.gc_max_ns = 0
        self.lag_histogram = Histogram()
        """Every lag probe of the run so far (the shell may drain it into records)."""

    def lag(self, lag_ns: int) -> None:
        """One probe: how late (ns) a periodic task woke; early wakes count as 0."""
        value = lag_ns if lag_ns > 0 else 0
        self._lags.append(value)
        self.lag_histogram.record(value)

    def gc(self, phase: str, now_ns: int) -> None:
        """A ``gc.callbacks`` event: ``start`` or ``stop`` of one collection."""
        if phase == "start":
            self._gc_started = now_ns
        elif phase == "stop" and self._gc_started:
            pause = now_ns - self._gc_started
            self._gc_started = 0
            self.gc_pauses += 1
            self.gc_total_ns += pause
            if pause > self.gc_max_ns:
                self.gc_max_ns = pause

    def row(
        self, now_ns: int, cpu_ns: int, loop_cpu_ns: int, rss_bytes: int
    ) -> tuple[object, ...]:
        """Close the interval at ``now_ns``: its ``health`` row; a new interval starts."""
        lags = sorted(self._lags)
        p99 = lags[min(len(lags) - 1, -(-len(lags) * 99 // 100) - 1)] if lags else 0
        out = (
            self.producer,
            self.kind,
            now_ns,
            now_ns - self._start,
            cpu_ns - self._cpu,
            loop_cpu_ns - self._loop_cpu,
            len(lags),
            p99,
            lags[-1] if lags else 0,
            self.gc_pauses,
            self.gc_total_ns,
            self.gc_max_ns,
            rss_bytes,
        )
        self._start, self._cpu, self._loop_cpu = now_ns, cpu_ns, loop_cpu_ns
        self._lags = []
        self.gc_pauses = self.gc_total_ns = self.gc_max_ns = 0
        return out


class Figures(NamedTuple):
    """The figures of one ``health`` row that a stats line shows."""

    interval_ns: int
    cpu_ns: int
    """The process's CPU time in the interval (every thread)."""
    loop_cpu_ns: int
    """The event-loop thread's CPU time in the interval."""
    lag_p99_ns: int
    lag_max_ns: int

    @property
    def cpu_share(self) -> float:
        """Share of one core the process used in the interval."""
        return self.cpu_ns / self.interval_ns if self.interval_ns > 0 else 0.0

    @property
    def loop_cpu_share(self) -> float:
        """Share of one core the loop thread used: the receiver's saturation."""
        return self.loop_cpu_ns / self.interval_ns if self.interval_ns > 0 else 0.0


def figures(row: Sequence[object] | None) -> Figures:
    """Read a :meth:`HealthWindow.row` back (all zero before the first row)."""
    if row is None:
        return Figures(0, 0, 0, 0, 0)
    values: list[int] = []
    for i in (3, 4, 5, 7, 8):  # interval, cpu, loop cpu, lag p99, lag max
        value = row[i]
        if not isinstance(value, int):
            raise TypeError(f"not a health row: {row!r}")
        values.append(value)
    return Figures(*values)
