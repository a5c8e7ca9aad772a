"""reports.series: log-bucket percentiles and downsampling, against exact models."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings, strategies as st

from reports.series import (
    BUCKETS,
    LOW_NS,
    PER_DECADE,
    bucket_of,
    bucket_value_ns,
    downsample,
    histogram_quantiles,
)


RATIO = 10 ** (1 / PER_DECADE)
"""One bucket's width, as a ratio."""
values_ns = st.lists(
    st.integers(min_value=LOW_NS, max_value=10**11 - 1), min_size=1, max_size=300
)
quantile = st.floats(min_value=0.0, max_value=1.0)


@settings(max_examples=150, deadline=None)
@given(values_ns, st.lists(quantile, min_size=1, max_size=5))
def test_a_histogram_quantile_is_within_one_bucket_of_the_exact_one(
    values: list[int], qs: list[float]
) -> None:
    counts = np.bincount(bucket_of(np.asarray(values)), minlength=BUCKETS)
    got = histogram_quantiles(counts[None, :], qs)[0]
    exact = np.quantile(np.asarray(values, np.float64), qs, method="inverted_cdf")
    for g, e in zip(got, exact, strict=True):
        assert e / math.sqrt(RATIO) * 0.999 <= g <= e * math.sqrt(RATIO) * 1.001


@given(st.lists(st.integers(-(10**12), 10**13), min_size=1, max_size=50))
def test_buckets_are_in_range_and_ordered_like_the_values(values: list[int]) -> None:
    ordered = np.sort(np.asarray(values, np.int64))
    buckets = bucket_of(ordered)
    assert (buckets >= 0).all() and (buckets < BUCKETS).all()
    assert (np.diff(buckets) >= 0).all()


def test_a_bucket_holds_its_value() -> None:
    for value in (LOW_NS, 1_000_000, 20_000_000, 7 * 10**9):
        b = bucket_of(np.asarray([value]))
        middle = bucket_value_ns(b)[0]
        assert value / RATIO <= middle <= value * RATIO


def test_an_empty_row_has_no_quantile() -> None:
    counts = np.zeros((2, BUCKETS), np.int64)
    counts[1, 10] = 3
    got = histogram_quantiles(counts, (0.5, 0.99))
    assert np.isnan(got[0]).all()
    assert got[1].tolist() == [bucket_value_ns(np.asarray([10]))[0]] * 2


series = st.lists(
    st.one_of(st.floats(-1e6, 1e6, allow_nan=False), st.just(math.nan)),
    min_size=0,
    max_size=2000,
)


@settings(max_examples=100, deadline=None)
@given(series, st.integers(1, 700), st.sampled_from(["mean", "max"]))
def test_downsampling_keeps_at_most_the_points_and_every_peak(
    ys: list[float], points: int, how: str
) -> None:
    xs = [float(i) for i in range(len(ys))]
    got_x, got_y = downsample(xs, ys, points, how)
    assert len(got_x) == len(got_y) <= points
    if len(ys) <= points:
        assert got_x == xs
        assert np.array_equal(np.asarray(got_y), np.asarray(ys), equal_nan=True)
        return
    assert set(got_x) <= set(xs) and got_x[0] == xs[0] and got_x == sorted(got_x)
    present = [y for y in ys if not math.isnan(y)]
    kept = [y for y in got_y if not math.isnan(y)]
    if how == "max":
        assert (max(kept) if kept else None) == (max(present) if present else None)
    elif present:
        assert min(present) - 1e-6 <= min(kept) and max(kept) <= max(present) + 1e-6
