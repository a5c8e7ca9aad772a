"""RFC 3550 interarrival jitter (§6.4.1, appendix A.8), with arrival times passed in.

The media clock is ``media.timestamp`` (ms from stream start, api.md §5.2),
so both clocks are converted to nanoseconds before differencing.
"""

from __future__ import annotations


__all__ = ["InterarrivalJitter"]


class InterarrivalJitter:
    """Running estimate J += (|D| - J) / 16 over consecutive packets of one track."""

    __slots__ = ("_last_transit", "jitter_ns")

    def __init__(self) -> None:
        self._last_transit: int | None = None
        self.jitter_ns = 0.0

    def update(self, arrival_ns: int, media_ns: int) -> float:
        """Feed one packet in arrival order; return the estimate after it (ns)."""
        transit = arrival_ns - media_ns
        if self._last_transit is not None:
            d = abs(transit - self._last_transit)
            self.jitter_ns += (d - self.jitter_ns) / 16.0
        self._last_transit = transit
        return self.jitter_ns
