"""harness.core.histogram: exact merges and percentiles within one bucket."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings, strategies as st

from harness.core.histogram import (
    LINEAR_US,
    MAX_ABS_NS,
    Histogram,
    bucket_bounds_ns,
    bucket_of,
    buckets_of,
)


HOUR_NS = 3_600 * 10**9
values = st.integers(-HOUR_NS, HOUR_NS)
samples = st.lists(values, max_size=200)


def histogram(items: list[int]) -> Histogram:
    h = Histogram()
    for v in items:
        h.record(v)
    return h


def nearest_rank(items: list[int], q: float) -> int:
    """The straightforward definition: the ceil(q n)-th smallest value."""
    ordered = sorted(items)
    return ordered[max(1, math.ceil(q * len(ordered) - 1e-9)) - 1]


@given(values)
def test_a_value_falls_inside_its_bucket(value: int) -> None:
    low, high = bucket_bounds_ns(bucket_of(value))
    assert low <= value < high


@given(st.integers(0, HOUR_NS))
def test_microsecond_resolution_then_a_thousandth(value: int) -> None:
    low, high = bucket_bounds_ns(bucket_of(value))
    if value < LINEAR_US * 1000:
        assert high - low == 1000
    else:
        assert (high - low) * 1024 <= low


def test_hand_worked_buckets() -> None:
    assert [bucket_of(v) for v in (0, 999, 1000, 2_047_999)] == [0, 0, 1, 2047]
    # 2.048 ms starts the 2-µs-wide buckets; 3 ms is 1500 of them past 0.
    assert bucket_bounds_ns(bucket_of(2_048_000)) == (2_048_000, 2_050_000)
    assert bucket_bounds_ns(bucket_of(3_000_001)) == (3_000_000, 3_002_000)
    assert bucket_of(-1) == -1 and bucket_bounds_ns(-1) == (-999, 1)


@given(samples, samples)
def test_merge_is_exact(a: list[int], b: list[int]) -> None:
    merged = histogram(a)
    merged.merge(histogram(b))
    assert merged == histogram(a + b)
    assert merged.total == len(a) + len(b)
    assert Histogram(histogram(a).counts) == histogram(a)


@settings(max_examples=200)
@given(st.lists(values, min_size=1, max_size=300), st.floats(0.0, 1.0))
def test_percentiles_within_one_bucket(items: list[int], q: float) -> None:
    exact = nearest_rank(items, q)
    got = histogram(items).percentile(q)
    assert got is not None
    low, high = bucket_bounds_ns(bucket_of(exact))
    assert abs(got - exact) <= high - low


def test_empty_and_bounds() -> None:
    h = Histogram()
    assert h.percentiles([0.5, 0.99]) == [None, None]
    assert h.bounds() is None and len(h) == 0
    h.record(5_000_000, count=3)
    h.record(-2_000)
    assert h.bounds() == (-2_999, 5_004_000)  # 4-µs buckets at 5 ms
    assert h.percentiles([0.25, 1.0]) == [-2_499.0, 5_002_000.0]
    h.clear()
    assert h.total == 0 and h == Histogram()
    assert Histogram().__eq__(object()) is NotImplemented


edges = st.sampled_from(
    [0, 1, 999, 1000, 1001, -1, -999, -1000, -1001, MAX_ABS_NS, -MAX_ABS_NS]
    + [
        s * ((1 << k) * 1000 + d)
        for k in range(10, 53)
        for d in (-1, 0, 1)
        for s in (1, -1)
    ]
)


@given(st.lists(st.integers(-MAX_ABS_NS, MAX_ABS_NS) | edges, max_size=300))
@settings(max_examples=300)
def test_buckets_of_is_bucket_of_for_every_value(items: list[int]) -> None:
    got = buckets_of(np.array(items, dtype=np.int64)).tolist()
    assert got == [bucket_of(v) for v in items]
