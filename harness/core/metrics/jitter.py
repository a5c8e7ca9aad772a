"""RFC 3550 interarrival jitter (§6.4.1, appendix A.8), with arrival times passed in.

The media clock is ``media.timestamp`` (ms from stream start, contract §5.2),
so both clocks are converted to nanoseconds before differencing.

The estimator starts at 0 and moves 1/16 of the way to each new ``|D|``, so a
track's first estimates are still rising towards the path's jitter, whatever
that is: after ``n`` updates the expected estimate is ``1 - (15/16)^n`` of the
steady one. Percentiles over every frame would then depend on how long streams
are held (with 2 s holds, a third of the frames are in the first second), so
the first :data:`WARMUP_FRAMES` frames of each track are the warm-up: their
estimate is recorded as NaN and left out of the percentiles
(https://www.rfc-editor.org/rfc/rfc3550#appendix-A.8).
"""

from __future__ import annotations

import math
from typing import Final


__all__ = ["WARMUP_FRAMES", "InterarrivalJitter"]

_NAN: Final = math.nan

WARMUP_FRAMES: Final = 64
"""Frames of a track whose estimate is the estimator's warm-up.

Frame ``k`` of a track (from 0, in arrival order) follows ``k`` updates, so
its estimate is low by ``(15/16)^k`` of the steady value in expectation; from
frame 64 on that is under 1.7 % (55 would leave 2.9 %, 72 under 1 %). 64
frames are 1.28 s of 20 ms media: a track held shorter has only warm-up frames
and adds to the warm-up count alone.
"""


class InterarrivalJitter:
    """Running estimate J += (|D| - J) / 16 over consecutive packets of one track."""

    __slots__ = ("_last_transit", "frames", "jitter_ns")

    def __init__(self) -> None:
        self._last_transit: int | None = None
        self.jitter_ns = 0.0
        self.frames = 0
        """Packets fed so far."""

    def update(self, arrival_ns: int, media_ns: int) -> float:
        """Feed one packet in arrival order; return the estimate after it (ns)."""
        self.record(arrival_ns, media_ns)
        return self.jitter_ns

    def record(self, arrival_ns: int, media_ns: int) -> float:
        """Feed one packet in arrival order; return its value in a ``frames`` row.

        That is the estimate after it, NaN in the warm-up (:meth:`recorded`).
        The receiver calls this once per media frame on its fast path
        (``harness.core.session``), so it is one call with the arithmetic inline.
        """
        transit = arrival_ns - media_ns
        last = self._last_transit
        self._last_transit = transit
        if last is not None:
            d = transit - last
            self.jitter_ns += ((d if d >= 0 else -d) - self.jitter_ns) / 16.0
        self.frames = frames = self.frames + 1
        return self.jitter_ns if frames > WARMUP_FRAMES else _NAN

    @property
    def settled(self) -> bool:
        """Whether the latest packet is past the warm-up (``frames > WARMUP_FRAMES``)."""
        return self.frames > WARMUP_FRAMES

    def recorded(self) -> float:
        """The latest packet's value in a ``frames`` row: the estimate, NaN in the warm-up."""
        return self.jitter_ns if self.settled else math.nan
