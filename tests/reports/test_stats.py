"""reports.stats: distributions against a straightforward reference."""

from __future__ import annotations

import math
import random
from fractions import Fraction

import numpy as np
from hypothesis import given, strategies as st

from reports.stats import (
    QUANTILES,
    distribution,
    exact_sum,
    mean,
    ms,
    quantiles,
    ratio,
)


MS = 1_000_000


def reference_quantile(values: list[int], q: float) -> float:
    """Linear interpolation between the order statistics at ``q x (n - 1)``."""
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def test_distribution_by_hand() -> None:
    """1, 2, 3, 4 ms: p50 sits halfway between 2 and 3; p90 at 3 + 0.7."""
    dist = distribution(np.array([4, 1, 3, 2]) * MS)
    assert dist == {
        "p50": 2.5,
        "p90": 3.7,
        "p95": 3.85,
        "p99": 3.97,
        "p999": 3.997,
        "max": 4.0,
        "min": 1.0,
        "mean": 2.5,
        "count": 4,
    }


def test_an_empty_distribution_keeps_its_keys() -> None:
    dist = distribution(np.zeros(0, np.int64))
    assert dist["count"] == 0
    assert {k for k, v in dist.items() if v is not None} == {"count"}
    assert set(dist) == {
        *(name for name, _ in QUANTILES),
        "max",
        "min",
        "mean",
        "count",
    }


def test_nan_values_are_ignored() -> None:
    dist = distribution(np.array([np.nan, 2 * MS, np.nan]))
    assert (dist["count"], dist["p50"], dist["max"]) == (1, 2.0, 2.0)


def test_ms_rounds_to_a_microsecond_and_passes_missing_through() -> None:
    assert ms(1_234_567) == 1.235
    assert ms(None) is None
    assert ms(float("nan")) is None


def test_ratio() -> None:
    assert ratio(3, 100) == 0.03
    assert ratio(1, 3) == 0.333333
    assert ratio(0, 0) is None


@given(
    st.lists(st.integers(-(10**12), 10**12), min_size=1, max_size=200),
    st.sampled_from([q for _, q in QUANTILES]),
)
def test_quantiles_match_the_reference(values: list[int], q: float) -> None:
    (got,) = quantiles(np.array(values, np.int64), [q])
    assert math.isclose(got, reference_quantile(values, q), rel_tol=1e-9, abs_tol=1e-3)


@given(st.lists(st.integers(0, 10**11), min_size=1, max_size=200))
def test_distribution_matches_the_reference(values: list[int]) -> None:
    dist = distribution(np.array(values, np.int64))
    for name, q in QUANTILES:
        # Rounded to a microsecond; allow the rounding of either side.
        got, expected = dist[name], reference_quantile(values, q) / MS
        assert got is not None
        assert math.isclose(got, expected, abs_tol=0.0005 + 1e-9)
    assert dist["max"] == round(max(values) / MS, 3)
    assert dist["min"] == round(min(values) / MS, 3)
    assert dist["count"] == len(values)


finite = st.floats(allow_nan=False, allow_infinity=False)


@given(st.lists(st.integers(-(2**63), 2**63 - 1), max_size=300))
def test_exact_sum_of_integers_is_the_true_sum(values: list[int]) -> None:
    assert exact_sum(np.array(values, np.int64)) == sum(values)


@given(st.lists(finite, max_size=300))
def test_exact_sum_of_floats_is_the_true_sum(values: list[float]) -> None:
    total = exact_sum(np.array(values, np.float64))
    assert total == sum((Fraction(v) for v in values), Fraction(0))


@given(st.lists(finite, min_size=1, max_size=100), st.randoms())
def test_the_mean_does_not_depend_on_the_order(
    values: list[float], rng: random.Random
) -> None:
    shuffled = values[:]
    rng.shuffle(shuffled)
    one = mean(exact_sum(np.array(values)), len(values))
    other = mean(exact_sum(np.array(shuffled)), len(values))
    assert one == other or (math.isnan(one) and math.isnan(other))
    # one rounding of the true mean
    assert one == float(sum((Fraction(v) for v in values), Fraction(0)) / len(values))


def test_an_infinite_float_has_no_exact_sum_and_no_mean() -> None:
    assert exact_sum(np.array([1.0, math.inf])) is None
    assert math.isnan(mean(None, 3))
    assert ms(mean(None, 3)) is None


@given(st.lists(st.integers(0, 10**12), min_size=1, max_size=300))
def test_the_mean_of_durations_is_numpys(values: list[int]) -> None:
    """Below 2**53 numpy's float sum is exact too, so the two means agree."""
    array = np.array(values, np.int64)
    assert distribution(array)["mean"] == ms(float(array.mean()))
