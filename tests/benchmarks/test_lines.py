"""What a receiver's live ``stats`` line costs its event loop: the standard
library's ``json.dumps`` against :func:`harness.core.lines.encode` (msgspec).

The line is a real one: 500 two-track streams over five codecs folded a second
at a time by the receivers' own :class:`receivers.distributions.Distributions`
(``scripts/bench_live.py``'s traffic, widely spread values: many buckets).
Rounds interleave the two encoders; the best of each is compared.

``STREAMLOAD_BENCH=1`` runs the ratio; ``pytest tests/benchmarks
--benchmark-enable`` times each alone.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from harness.core.lines import EVENT, STATS, encode
from receivers.distributions import Distributions
from scripts.bench_live import Traffic


ROUNDS = 15


def _live_fields(streams: int = 500) -> dict[str, Any]:
    traffic = Traffic(streams, np.random.default_rng(7))
    dist = Distributions("bench")
    for _ in range(3):
        dist.deliver(dist.fold(traffic.flush(), traffic.codecs))
    return {"live": dist.live(["PCMU"] * streams)}


def _stdlib(fields: dict[str, Any]) -> str:
    return json.dumps({EVENT: STATS, **fields}, separators=(",", ":"))


def _ours(fields: dict[str, Any]) -> str:
    return encode(STATS, fields)


def _elapsed_ns(write: Callable[[dict[str, Any]], str], fields: dict[str, Any]) -> int:
    started = time.perf_counter_ns()
    write(fields)
    return time.perf_counter_ns() - started


def test_the_timed_line_is_large_and_the_same_both_ways() -> None:
    """The line measured is the pessimistic one, and both encoders write it alike."""
    fields = _live_fields()
    line = _ours(fields)
    assert len(line) > 100_000
    assert line == _stdlib(fields)


@pytest.mark.skipif(
    not os.environ.get("STREAMLOAD_BENCH"),
    reason="a timing ratio: run with STREAMLOAD_BENCH=1 on a quiet machine",
)
def test_msgspec_writes_the_live_line_at_least_three_times_faster() -> None:
    fields = _live_fields()
    stdlib, ours = [], []
    for _ in range(ROUNDS):
        stdlib.append(_elapsed_ns(_stdlib, fields))
        ours.append(_elapsed_ns(_ours, fields))
    print(
        f"\nlive line {len(_ours(fields)) / 1000:.0f} KB: json.dumps "
        f"{min(stdlib) / 1e6:.2f} ms, encode {min(ours) / 1e6:.2f} ms "
        f"({min(stdlib) / min(ours):.1f} x)"
    )
    assert 3 * min(ours) <= min(stdlib)


@pytest.mark.benchmark(group="live stats line")
def test_bench_stdlib_json(benchmark: BenchmarkFixture) -> None:
    fields = _live_fields()
    benchmark(_stdlib, fields)


@pytest.mark.benchmark(group="live stats line")
def test_bench_encode(benchmark: BenchmarkFixture) -> None:
    fields = _live_fields()
    benchmark(_ours, fields)
