"""The receiver's self-measurement: the shared probe and the figures of its stats line.

The probe (:class:`harness.io.health.Probe`) writes a ``health`` row a second;
the receiver's recorder (:class:`harness.io.recorder.Recorder`) drains the lag histogram
before each flush. The stats line shows the loop thread's CPU share (one
receiver saturates one core: limits on the reference machine put the cliff
near 90 %) and the loop lag.
"""

from __future__ import annotations

from harness.io.health import Probe


__all__ = ["Monitor"]


class Monitor(Probe):
    """The receiver's :class:`~harness.io.health.Probe`, plus its stats figures."""

    def stats(self) -> dict[str, float]:
        """``cpu`` (loop thread), ``lag_p99_ms``, ``lag_max_ms``; empty before a row."""
        if self.last is None:
            return {}
        f = self.figures
        return {
            "cpu": round(f.loop_cpu_share, 3),
            "lag_p99_ms": round(f.lag_p99_ns / 1e6, 3),
            "lag_max_ms": round(f.lag_max_ns / 1e6, 3),
        }
