"""Loss, duplicate and reorder counting over a per-track counter (``media.chunk``).

Memory is bounded: a sliding window of the last ``window`` numbers remembers
what was seen, so a long stream costs a few hundred bytes a track.
"""

from __future__ import annotations

import enum


__all__ = ["Arrival", "SequenceCounter"]


class Arrival(enum.Enum):
    NEXT = "next"
    """The number right after the highest seen (or the first, 1)."""
    GAP = "gap"
    """Ahead of the next expected: the ones in between are missing for now."""
    LATE = "late"
    """Below the highest seen and not seen before: reordered."""
    DUPLICATE = "duplicate"
    TOO_OLD = "too-old"
    """Below the window: cannot tell late from duplicate."""


class SequenceCounter:
    """Classify each arriving number and count what is missing."""

    __slots__ = (
        "_seen",
        "duplicates",
        "highest",
        "late",
        "received",
        "too_old",
        "unique",
        "window",
    )

    def __init__(self, window: int = 1024) -> None:
        self.window = window
        self.highest = 0
        self.received = 0
        self.unique = 0
        self.duplicates = 0
        self.late = 0
        self.too_old = 0
        self._seen = 0  # bit i set = (highest - i) was seen

    def receive(self, number: int) -> Arrival:
        """Count one arrival of ``number`` (counters start at 1)."""
        self.received += 1
        if number > self.highest:
            shift = number - self.highest
            self._seen = ((self._seen << shift) | 1) & ((1 << self.window) - 1)
            outcome = Arrival.NEXT if shift == 1 else Arrival.GAP
            self.highest = number
            self.unique += 1
            return outcome
        offset = self.highest - number
        if offset >= self.window or number < 1:
            self.too_old += 1
            return Arrival.TOO_OLD
        bit = 1 << offset
        if self._seen & bit:
            self.duplicates += 1
            return Arrival.DUPLICATE
        self._seen |= bit
        self.unique += 1
        self.late += 1
        return Arrival.LATE

    @property
    def missing(self) -> int:
        """Numbers from 1 to the highest seen that never arrived (so far)."""
        return self.highest - self.unique - self.too_old if self.highest else 0
