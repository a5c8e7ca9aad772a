"""The platform's self-measurement: CPU, event-loop lag and GC pauses, a ``health`` row a second.

The send log is only ground truth while the sender keeps up: pacing holds up
to ~65-85 % of a core and then degrades fast, with rare 20-80 ms stalls (GC
passes among them). So the platform records its own load beside the frames,
with the probe the receivers use (:class:`harness.io.health.Probe`, kind
``platform``). The platform's recorder has no flush hook, so each sample also
moves the lag probes into ``histograms`` (metric ``loop_lag_ns``).
"""

from __future__ import annotations

from harness.core.records import RowSink
from harness.io.health import Probe


__all__ = ["Health"]


class Health(Probe):
    """Sample this process on the running loop into ``sink`` (``kind`` ``platform``)."""

    def __init__(self, producer: str, sink: RowSink) -> None:
        super().__init__(producer, "platform", sink)

    @property
    def cpu_ratio(self) -> float:
        """Share of one core the process used in the last interval."""
        return self.figures.cpu_share

    @property
    def lag_max_ns(self) -> int:
        """Largest event-loop lag in the last interval."""
        return self.figures.lag_max_ns

    def sample(self) -> tuple[object, ...]:
        """Close the interval now: one ``health`` row and the lag histogram's new counts."""
        row = super().sample()
        self.drain()
        return row
