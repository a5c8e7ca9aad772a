"""reports.samples: distributions in parts, spilled or not, equal numpy's numbers."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import assume, given, settings, strategies as st

from reports import samples
from reports.samples import (
    SamplePool,
    Samples,
    order_keys,
    quantiles_of,
    summarise,
    values_of,
)
from reports.stats import QUANTILES, distribution


CDF = [i / 100 for i in range(101)] + [0.995, 0.999, 0.9999]
Q = [q for _, q in QUANTILES]

ints = st.one_of(
    st.integers(-(2**62), 2**62),
    st.integers(0, 5_000_000),  # durations in ns: many duplicates, narrow runs
    st.integers(-3, 3),
)
floats = st.floats(allow_nan=True, allow_infinity=False)
int_lists = st.lists(ints, min_size=1, max_size=400)
float_lists = st.lists(floats, min_size=1, max_size=400)


def collected(
    pool: SamplePool,
    values: npt.NDArray[Any],
    cuts: list[int],
    parts: int,
    copy: bool,
) -> list[Samples]:
    """``values`` added to ``parts`` samples, cut at ``cuts`` (round robin)."""
    out = [pool.samples(values.dtype) for _ in range(parts)]
    for i, part in enumerate(
        np.split(values, sorted(c % (len(values) + 1) for c in cuts))
    ):
        out[i % parts].add(part.copy(), copy=copy)
    return out


def check(values: npt.NDArray[Any], budget: int, cuts: list[int], parts: int) -> None:
    finite = values[~np.isnan(values)] if values.dtype.kind == "f" else values
    for copy in (True, False):
        with SamplePool(budget) as pool:
            got = collected(pool, values, cuts, parts, copy)
            assert sum(s.count for s in got) == finite.size
            assert summarise(got) == distribution(values)
            if finite.size:
                want = np.quantile(finite, CDF).tolist()
                assert quantiles_of(got, CDF) == want


@settings(max_examples=150, deadline=None)
@given(
    int_lists,
    st.sampled_from([1, 64, 800, 1 << 20]),
    st.lists(st.integers(0, 400), max_size=6),
    st.integers(1, 3),
)
def test_integers_equal_numpy_spilled_or_not(
    values: list[int], budget: int, cuts: list[int], parts: int
) -> None:
    check(np.array(values, np.int64), budget, cuts, parts)


@settings(max_examples=150, deadline=None)
@given(
    float_lists,
    st.sampled_from([1, 64, 800, 1 << 20]),
    st.lists(st.integers(0, 400), max_size=6),
    st.integers(1, 3),
)
def test_floats_equal_numpy_spilled_or_not(
    values: list[float], budget: int, cuts: list[int], parts: int
) -> None:
    """NaN is dropped as distribution drops it; -0.0 and 0.0 compare equal."""
    array = np.array(values, np.float64)
    assume(not np.isnan(array).all())
    check(array, budget, cuts, parts)


@given(st.integers(-(2**63), 2**63 - 1), st.sampled_from([1, 1 << 20]))
def test_a_single_value(value: int, budget: int) -> None:
    with SamplePool(budget) as pool:
        one = pool.samples(np.int64)
        one.add(np.array([value]))
        assert one.spilled == (budget == 1)
        assert quantiles_of([one], Q) == [float(value)] * len(Q)
        assert summarise([one]) == distribution(np.array([value]))


def test_one_value_many_times_spilled_in_many_runs() -> None:
    with SamplePool(1) as pool:
        same = pool.samples(np.int64)
        for _ in range(50):
            same.add(np.full(7, 1_234_567, np.int64))
        assert same.spilled and len(same.runs()) == 50
        assert summarise([same]) == distribution(np.full(350, 1_234_567))


def test_without_spilling_nothing_reaches_the_disk() -> None:
    with SamplePool() as pool:
        sample = pool.samples(np.float64)
        sample.add(np.array([3.0, np.nan, -0.0]))
        assert sample.count == 2
        assert summarise([sample])["count"] == 2
        assert quantiles_of([sample], [0.0]) == [0.0]
        assert not sample.spilled and not any(pool.directory().iterdir())


def test_no_values_at_all() -> None:
    with SamplePool(1) as pool:
        empty = pool.samples(np.int64)
        empty.add(np.zeros(0, np.int64))
        assert summarise([empty]) == distribution(np.zeros(0))
        assert summarise([]) == distribution(np.zeros(0))


def test_spilled_durations_are_stored_in_half_the_bytes() -> None:
    """A run spanning less than 2**32 is kept as uint32 offsets from its least value."""
    values = np.arange(10**6, dtype=np.int64) * 4000 + 2**60
    with SamplePool(1) as pool:
        sample = pool.samples(np.int64)
        sample.add(values)
        (run,) = sample.runs()
        assert run.values.dtype == np.uint32 and run.base == 2**60
        assert (pool.directory() / "0.bin").stat().st_size == values.nbytes // 2
        assert run.at_or_below(np.array([0, 2**60, 2**60 + 3999, 2**62])).tolist() == [
            0,
            1,
            1,
            10**6,
        ]
        assert summarise([sample]) == distribution(values)


def test_the_pool_keeps_to_its_budget() -> None:
    with SamplePool(1000) as pool:
        three = [pool.samples(np.int64) for _ in range(3)]
        for i in range(30):
            three[i % 3].add(np.arange(40, dtype=np.int64))
            assert pool.held <= 1000  # held or still being written
        pool.wait()
        assert pool.held == sum(s.held_bytes for s in three)
    assert pool.held == 0


def test_a_failed_spill_is_raised_not_lost(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(samples, "exact_sum", broken)
    with pytest.raises(OSError, match="disk full"), SamplePool(1) as pool:
        sample = pool.samples(np.int64)
        sample.add(np.arange(10, dtype=np.int64))
        sample.runs()
    assert pool.held == 0


def test_samples_hold_int64_or_float64() -> None:
    with SamplePool() as pool, pytest.raises(TypeError):
        pool.samples(np.int32)


@given(st.lists(st.integers(-(2**63), 2**63 - 1), min_size=2, max_size=50))
def test_order_keys_of_integers_keep_the_order_and_invert(values: list[int]) -> None:
    array = np.array(values, np.int64)
    keys = order_keys(array)
    assert (np.argsort(keys, kind="stable") == np.argsort(array, kind="stable")).all()
    assert (values_of(keys, array.dtype) == array).all()


@given(st.lists(st.floats(allow_nan=False), min_size=2, max_size=50))
def test_order_keys_of_floats_keep_the_order_and_invert(values: list[float]) -> None:
    array = np.array(values, np.float64) + 0.0  # one zero, as samples store it
    keys = order_keys(array)
    for a, b, ka, kb in zip(array, array[1:], keys, keys[1:], strict=False):
        assert (a < b) == (ka < kb) and (a == b) == (ka == kb)
    back = values_of(keys, array.dtype)
    assert all(
        x == y or (math.isnan(x) and math.isnan(y))
        for x, y in zip(back, array, strict=True)
    )
