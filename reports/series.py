"""Bounded series for the report's plots: log-bucket histograms and downsampling.

A plot of a long run must not cost memory or bytes in proportion to its
frames. Latency over time is kept as counts per (codec, time bin, log bucket)
while the per-frame pass runs (:class:`reports.frames.FrameFacts`), so a
percentile per bin comes out of a fixed-size array; any other time series is
cut to at most :data:`MAX_POINTS` points before it is drawn.

Buckets are :data:`PER_DECADE` to a decade from :data:`LOW_NS` (10 µs) to 100 s:
a value's bucket is ``floor(log10(value / LOW_NS) x PER_DECADE)``, so a
percentile read from the counts is within one bucket's ratio (about 5 %) of
the exact one, plenty for a line on a plot. Values below the range (a
loopback frame under 10 µs, or a negative transit between hosts' clocks)
count in the first bucket, values above in the last.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import numpy as np
import numpy.typing as npt


__all__ = [
    "BUCKETS",
    "LOW_NS",
    "MAX_POINTS",
    "PER_DECADE",
    "bucket_of",
    "bucket_value_ns",
    "downsample",
    "histogram_quantiles",
]

LOW_NS: Final = 10_000
"""The lower edge of the first bucket: 10 µs."""
PER_DECADE: Final = 48
_DECADES: Final = 7
BUCKETS: Final = PER_DECADE * _DECADES
"""Buckets from :data:`LOW_NS` to 100 s."""
MAX_POINTS: Final = 600
"""The most points a time series keeps for a plot."""

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


def bucket_of(values_ns: npt.NDArray[np.integer] | F64) -> I64:
    """Each value's bucket, clipped to ``[0, BUCKETS)``."""
    scaled = np.maximum(np.asarray(values_ns, np.float64), LOW_NS) / LOW_NS
    buckets = np.floor(np.log10(scaled) * PER_DECADE).astype(np.int64)
    clipped: I64 = np.clip(buckets, 0, BUCKETS - 1)
    return clipped


def bucket_value_ns(buckets: I64) -> F64:
    """The value drawn for a bucket: the geometric middle of its edges."""
    return LOW_NS * 10 ** ((np.asarray(buckets, np.float64) + 0.5) / PER_DECADE)


def histogram_quantiles(counts: I64, qs: Sequence[float]) -> F64:
    """Quantiles (ns) of each row of ``counts`` (rows x :data:`BUCKETS`).

    Shape ``(rows, len(qs))``; a row with no count gives NaN. The ``q``
    quantile is the bucket holding the ``ceil(q x n)``-th smallest value (at
    least the first), as NumPy's ``inverted_cdf`` picks it among the values.
    """
    counts = np.asarray(counts, np.int64).reshape(-1, BUCKETS)
    cumulative = np.cumsum(counts, axis=1)
    totals = cumulative[:, -1]
    out = np.full((len(counts), len(qs)), np.nan)
    for j, q in enumerate(qs):
        rank = np.maximum(np.ceil(q * totals), 1)
        # the first bucket whose running count reaches the rank
        bucket = (cumulative < rank[:, None]).sum(axis=1)
        out[:, j] = np.where(
            totals > 0, bucket_value_ns(np.minimum(bucket, BUCKETS - 1)), np.nan
        )
    return out


def downsample(
    xs: Sequence[float] | F64,
    ys: Sequence[float] | F64,
    points: int = MAX_POINTS,
    how: str = "mean",
) -> tuple[list[float], list[float]]:
    """At most ``points`` points: consecutive runs of ``xs`` merged into one.

    Each merged point sits at its run's first x and takes the ``mean`` or
    ``max`` of its run's ys (NaN ignored; a run of NaN stays NaN). Fewer
    points than ``points`` come back unchanged.
    """
    x = np.asarray(xs, np.float64)
    y = np.asarray(ys, np.float64)
    if len(x) <= points:
        return x.tolist(), y.tolist()
    size = -(-len(x) // points)  # ceil: at most ``points`` runs
    starts = np.arange(0, len(x), size)
    padded = np.full(len(starts) * size, np.nan)
    padded[: len(y)] = y
    runs = padded.reshape(len(starts), size)
    present = ~np.isnan(runs)
    any_present = present.any(axis=1)
    if how == "max":
        merged = np.where(present, runs, -np.inf).max(axis=1)
    else:
        sums = np.where(present, runs, 0.0).sum(axis=1)
        merged = sums / np.maximum(present.sum(axis=1), 1)
    merged = np.where(any_present, merged, np.nan)
    return x[starts].tolist(), merged.tolist()
