"""The platform's self-measurement: CPU, event-loop lag and GC pauses, a ``health`` row a second.

The send log is only ground truth while the sender keeps up: limits.md §3
measured pacing that holds up to ~65-85 % of a core and then degrades fast,
plus rare 20-80 ms stalls (GC passes among them). So the platform records its
own load beside the frames, with the same pure window the receivers use
(:mod:`harness.health`): a probe task that asks to wake every 10 ms and
records how late it woke, ``gc.callbacks`` timing every collection, and the
process and loop-thread CPU times. The lag probes also go to ``histograms``
(metric ``loop_lag_ns``) so a run-wide p99 merges exactly across processes.
"""

from __future__ import annotations

import asyncio
import gc
import os
import time
from typing import Any

from harness.health import LAG_METRIC, HealthWindow
from harness.records import RowSink


__all__ = ["Health", "rss_bytes"]

_PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_bytes() -> int:
    """Resident memory of this process (Linux ``/proc``; 0 where unavailable)."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return 0


class Health:
    """Sample this process on the running loop into ``sink`` (``kind`` ``platform``)."""

    def __init__(self, producer: str, sink: RowSink) -> None:
        self._sink = sink
        self._producer = producer
        self.window = HealthWindow(
            producer,
            "platform",
            time.monotonic_ns(),
            time.process_time_ns(),
            time.thread_time_ns(),
        )
        self.last: tuple[object, ...] | None = None
        """The latest ``health`` row, for the stats line."""

    def _gc(self, phase: str, _info: dict[str, Any]) -> None:
        self.window.gc(phase, time.monotonic_ns())

    @property
    def cpu_ratio(self) -> float:
        """Share of one core the process used in the last interval."""
        if self.last is None:
            return 0.0
        interval, cpu = self.last[3], self.last[4]
        assert isinstance(interval, int) and isinstance(cpu, int)
        return cpu / interval if interval else 0.0

    @property
    def lag_max_ns(self) -> int:
        """Largest event-loop lag in the last interval."""
        value = self.last[8] if self.last is not None else 0
        assert isinstance(value, int)
        return value

    def sample(self) -> tuple[object, ...]:
        """Close the interval now: one ``health`` row and the lag histogram's new counts."""
        row = self.window.row(
            time.monotonic_ns(),
            time.process_time_ns(),
            time.thread_time_ns(),
            rss_bytes(),
        )
        self._sink.add("health", row)
        histogram = self.window.lag_histogram
        for bucket, count in histogram.items():
            self._sink.add(
                "histograms", (self._producer, LAG_METRIC, "", "", bucket, count)
            )
        histogram.clear()
        self.last = row
        return row

    async def run(self, interval_s: float = 1.0, period_s: float = 0.01) -> None:
        """Probe every ``period_s`` and write a row every ``interval_s`` until cancelled."""
        gc.callbacks.append(self._gc)
        step = int(period_s * 1e9)
        every = max(1, round(interval_s / period_s))
        try:
            n = 0
            due = time.monotonic_ns() + step
            while True:
                await asyncio.sleep(max(0.0, (due - time.monotonic_ns()) / 1e9))
                now = time.monotonic_ns()
                self.window.lag(now - due)
                # The next probe is a period after this wake, not on a grid: one
                # long stall counts once, not once per period it swallowed.
                due = now + step
                n += 1
                if n % every == 0:
                    self.sample()
        finally:
            gc.callbacks.remove(self._gc)
            self.sample()
