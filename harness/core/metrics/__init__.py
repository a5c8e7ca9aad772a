"""Per-track stream metrics; time is always an argument (integer ns).

Loss and reordering over ``media.chunk`` are defined once, vectorised, in
:mod:`reports.frames` (``chunk_gaps``, ``reordered``): only reports count them.
"""

from __future__ import annotations

from harness.core.metrics.jitter import InterarrivalJitter


__all__ = ["InterarrivalJitter"]
