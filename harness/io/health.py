"""A process's self-measurement on its running loop: lag probe, GC timing, a row a second.

The receivers and the reference platform measure themselves the same way
(:mod:`harness.core.health` holds the pure window): a probe task asks to wake every
``period`` seconds and records how late it woke (anything that holds the loop,
a burst of messages, a GC pass, a record writer holding the GIL, delays it,
and the same delay lands in the timestamps of the frames waiting behind it);
``gc.callbacks`` time every collection; once an ``interval`` the window
becomes a ``health`` row, and the lag probes also go to the ``histograms``
table so several processes merge into one exact run-wide p99.
"""

from __future__ import annotations

import asyncio
import gc
import os
import time
from collections.abc import Callable
from typing import Any

from harness.core.health import LAG_METRIC, Figures, HealthWindow, figures
from harness.core.records import RowSink


__all__ = ["Probe", "rss_bytes"]

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def rss_bytes() -> int:
    """Resident memory of this process (Linux ``/proc``; 0 where unavailable)."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return 0


class Probe:
    """Sample this process's health on the running loop into ``sink``.

    Args:
        producer: the name in records.
        kind: ``receiver`` or ``platform``.
        sink: gets one ``health`` row per interval and, on :meth:`drain`,
            the lag histogram's new counts.
        clock: CLOCK_MONOTONIC in ns (injected for tests).
    """

    def __init__(
        self,
        producer: str,
        kind: str,
        sink: RowSink,
        clock: Callable[[], int] = time.monotonic_ns,
    ) -> None:
        self.sink = sink
        self.clock = clock
        self.window = HealthWindow(
            producer, kind, clock(), time.process_time_ns(), time.thread_time_ns()
        )
        self.last: tuple[object, ...] | None = None
        """The latest health row (for the stats line)."""
        self._callback: Callable[[str, dict[str, Any]], None] | None = None

    @property
    def figures(self) -> Figures:
        """The latest row's figures (zero before the first)."""
        return figures(self.last)

    def _gc(self, phase: str, _info: dict[str, Any]) -> None:
        self.window.gc(phase, self.clock())

    def install(self) -> None:
        """Start timing garbage collections (idempotent)."""
        if self._callback is None:
            self._callback = self._gc
            gc.callbacks.append(self._callback)

    def uninstall(self) -> None:
        if self._callback is not None:
            gc.callbacks.remove(self._callback)
            self._callback = None

    def sample(self) -> tuple[object, ...]:
        """Close the current interval now (call on the loop thread) and record it."""
        row = self.window.row(
            self.clock(), time.process_time_ns(), time.thread_time_ns(), rss_bytes()
        )
        self.sink.add("health", row)
        self.last = row
        return row

    def drain(self) -> None:
        """Move the lag probes counted so far into ``histograms`` rows."""
        histogram = self.window.lag_histogram
        producer = self.window.producer
        for bucket, count in histogram.items():
            self.sink.add("histograms", (producer, LAG_METRIC, "", "", bucket, count))
        histogram.clear()

    async def run(
        self,
        stop: asyncio.Event | None = None,
        interval: float = 1.0,
        period: float = 0.01,
    ) -> None:
        """Probe every ``period`` s and sample every ``interval`` s until ``stop``
        (or until cancelled); a last sample on the way out."""
        self.install()
        clock = self.clock
        step = int(period * 1e9)
        every = max(1, round(interval / period))
        try:
            n = 0
            due = clock() + step
            while stop is None or not stop.is_set():
                await asyncio.sleep(max(0.0, (due - clock()) / 1e9))
                now = clock()
                self.window.lag(now - due)
                # The next probe is due a period after this wake, not on a fixed
                # grid: one long stall counts once, not once per missed period.
                due = now + step
                n += 1
                if n % every == 0:
                    self.sample()
        finally:
            self.sample()
            self.uninstall()
