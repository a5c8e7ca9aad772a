"""Per-track stream metrics; time is always an argument (integer ns)."""

from __future__ import annotations

from harness.metrics.jitter import InterarrivalJitter
from harness.metrics.sequence import SequenceCounter


__all__ = ["InterarrivalJitter", "SequenceCounter"]
