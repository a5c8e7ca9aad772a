"""Mergeable log-linear histograms of nanosecond values at microsecond resolution.

HDR-style buckets: values are counted in whole microseconds; below
:data:`LINEAR_US` each microsecond has its own bucket, above it every doubling
of the value is split into ``LINEAR_US / 2`` equal buckets, so a bucket is
never wider than 1/1024 of its values (8 µs at 10 ms, 64 µs at 100 ms).
Negative values (lateness can be) mirror the positive buckets below zero.

A bucket's index depends on the value alone, never on what else was
recorded, so two histograms merge exactly by adding counts: several receiver
processes, or machines, give the same percentiles as one would have. Memory is
bounded by the number of distinct buckets touched (under 40,000 up to an hour).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Final

import numpy as np
import numpy.typing as npt


__all__ = [
    "LINEAR_US",
    "MAX_ABS_NS",
    "Histogram",
    "bucket_bounds_ns",
    "bucket_of",
    "buckets_of",
]

_BITS: Final = 11
LINEAR_US: Final = 1 << _BITS
"""Values below this many microseconds (2.048 ms) get one bucket per microsecond."""
_HALF: Final = _BITS - 1
_US: Final = 1000


def bucket_of(value_ns: int) -> int:
    """The bucket of one value (ns); negative values get negative buckets."""
    if value_ns >= 0:
        us = value_ns // _US
        e = us.bit_length() - _BITS
        if e <= 0:
            return us
        return (e << _HALF) + (us >> e)
    us = -value_ns // _US
    e = us.bit_length() - _BITS
    return -1 - (us if e <= 0 else (e << _HALF) + (us >> e))


MAX_ABS_NS: Final = (1 << 62) - 1
"""The largest magnitude :func:`buckets_of` takes: its microseconds stay below
2**53, where float64 (its bit length) is exact; callers clip to it."""


def buckets_of(values_ns: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """:func:`bucket_of` of each value at once, for values within ``±MAX_ABS_NS``.

    The receiver histograms a second of frames in one call
    (:mod:`receivers.distributions`) instead of a Python call per frame. The
    bit length comes from ``frexp`` (exact below 2**53 microseconds).
    """
    v = np.asarray(values_ns, dtype=np.int64)
    negative = v < 0
    us = np.where(negative, -v, v) // _US
    _, bits = np.frexp(us.astype(np.float64))  # frexp(0) gives 0
    e = bits.astype(np.int64) - _BITS
    shift = np.maximum(e, 0)
    b = np.where(e <= 0, us, (e << _HALF) + (us >> shift))
    return np.where(negative, -1 - b, b)


def bucket_bounds_ns(bucket: int) -> tuple[int, int]:
    """The values ``[low, high)`` in ns that fall into ``bucket``."""
    if bucket < 0:
        low, high = bucket_bounds_ns(-1 - bucket)
        return -high + 1, -low + 1
    e = max((bucket >> _HALF) - 1, 0)
    mantissa = bucket - (e << _HALF)
    low_us = mantissa << e
    return low_us * _US, (low_us + (1 << e)) * _US


class Histogram:
    """Counts per bucket; record values, merge histograms, read percentiles.

    Percentiles are nearest-rank over the buckets, reported at the middle of
    the bucket that holds the rank, so the error is within one bucket's width.
    """

    __slots__ = ("counts", "total")

    def __init__(self, counts: Mapping[int, int] | None = None) -> None:
        self.counts: dict[int, int] = {}
        self.total = 0
        if counts:
            self.add_counts(counts.items())

    def record(self, value_ns: int, count: int = 1) -> None:
        """Count ``value_ns`` (the receiver's hot path: one index, one dict update)."""
        # bucket_of, inlined for the common non-negative case (a call is ~15 % of it)
        if value_ns >= 0:
            us = value_ns // _US
            if us < LINEAR_US:
                b = us
            else:
                e = us.bit_length() - _BITS
                b = (e << _HALF) + (us >> e)
        else:
            b = bucket_of(value_ns)
        counts = self.counts
        counts[b] = counts.get(b, 0) + count
        self.total += count

    def add_counts(self, items: Iterable[tuple[int, int]]) -> None:
        """Add ``(bucket, count)`` pairs, as read back from records."""
        counts = self.counts
        for bucket, count in items:
            counts[bucket] = counts.get(bucket, 0) + count
            self.total += count

    def merge(self, other: Histogram) -> None:
        """Add every count of ``other`` into this histogram (exact)."""
        self.add_counts(other.counts.items())

    def items(self) -> Iterator[tuple[int, int]]:
        """``(bucket, count)`` in bucket order."""
        return iter(sorted(self.counts.items()))

    def clear(self) -> None:
        self.counts = {}
        self.total = 0

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Histogram):
            return NotImplemented
        return {k: v for k, v in self.counts.items() if v} == {
            k: v for k, v in other.counts.items() if v
        }

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __len__(self) -> int:
        return self.total

    def percentile(self, q: float) -> float | None:
        """The value (ns) at quantile ``q`` in [0, 1]; ``None`` when empty."""
        return self.percentiles([q])[0]

    def percentiles(self, qs: Iterable[float]) -> list[float | None]:
        """Several quantiles in one pass over the sorted buckets."""
        wanted = list(qs)
        if not self.total:
            return [None] * len(wanted)
        ranks = [max(1, int(np.ceil(q * self.total))) for q in wanted]
        order = sorted(range(len(wanted)), key=lambda i: ranks[i])
        out: list[float | None] = [None] * len(wanted)
        seen = 0
        pending = iter(order)
        i = next(pending, None)
        for bucket, count in self.items():
            seen += count
            while i is not None and ranks[i] <= seen:
                low, high = bucket_bounds_ns(bucket)
                out[i] = (low + high) / 2
                i = next(pending, None)
            if i is None:
                break
        return out

    def bounds(self) -> tuple[int, int] | None:
        """The lowest value's bucket low and the highest value's bucket high (ns)."""
        present = [b for b, c in self.counts.items() if c]
        if not present:
            return None
        return bucket_bounds_ns(min(present))[0], bucket_bounds_ns(max(present))[1]
