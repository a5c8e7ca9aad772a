"""Per-frame cost of the metrics the receiver keeps: jitter and histogram records.

``pytest tests/benchmarks --benchmark-enable`` times them; plain ``pytest``
runs each once. ``-s`` prints the measured numbers of the budget test.
"""

from __future__ import annotations

import os
import random
import time

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from harness.core.histogram import Histogram
from harness.core.metrics import InterarrivalJitter


N = 20_000
MS = 1_000_000


def _arrivals(seed: int = 1) -> list[int]:
    rng = random.Random(seed)
    return [i * 20 * MS + rng.randrange(0, 3 * MS) for i in range(N)]


def _jitter_pass(arrivals: list[int]) -> float:
    j = InterarrivalJitter()
    record = j.record  # the receiver's per-frame call (harness.core.session)
    for i, a in enumerate(arrivals):
        record(a, i * 20 * MS)
    return j.jitter_ns


def _record_pass(values: list[int]) -> int:
    h = Histogram()
    record = h.record
    for v in values:
        record(v)
    return h.total


@pytest.mark.skipif(
    not os.environ.get("STREAMLOAD_BENCH"),
    reason="an absolute timing budget: run with STREAMLOAD_BENCH=1 on a quiet machine",
)
def test_histogram_record_costs_under_a_microsecond() -> None:
    """A paced message costs a receiver ~20 µs (docs/performance.md §2); three records stay small."""
    values = _arrivals()
    times = []
    for _ in range(5):
        started = time.perf_counter_ns()
        _record_pass(values)
        times.append((time.perf_counter_ns() - started) / N)
    print(f"\nHistogram.record: {min(times):.0f} ns per value")
    assert min(times) < 1_000


@pytest.mark.benchmark(group="metrics per frame")
def test_bench_jitter_update(benchmark: BenchmarkFixture) -> None:
    arrivals = _arrivals()
    benchmark(_jitter_pass, arrivals)


@pytest.mark.benchmark(group="metrics per frame")
def test_bench_histogram_record(benchmark: BenchmarkFixture) -> None:
    values = _arrivals()
    assert benchmark(_record_pass, values) == N
