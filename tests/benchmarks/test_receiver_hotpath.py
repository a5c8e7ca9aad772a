"""The receiver's per-message path: session.receive alone vs with the frame tap.

The tap (receivers.distributions) adds three histogram records per frame; it
must stay a small share of the session's own cost. Interleaved rounds, best
of each, so a noisy neighbour hits both alike.
"""

from __future__ import annotations

import os
import time

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from harness.core.records import MemorySink, RowSink
from harness.core.session import StreamSession
from receivers.distributions import Distributions, FrameTap
from tests.streams import valid_stream


ROUNDS = 15
CHUNKS = 400


def _pass(tap: bool) -> float:
    """Nanoseconds per media message of one stream through a fresh session."""
    texts, _ = valid_stream("PCMU", "both_tracks", 2, CHUNKS)
    opening, media = texts[:2], texts[2:-1]
    session = StreamSession(0)
    sink: RowSink = MemorySink()
    if tap:
        sink = FrameTap(sink, Distributions("bench"), session)
    for text in opening:
        session.receive(text, 0, sink)
    receive = session.receive
    now = time.monotonic_ns()
    started = time.perf_counter_ns()
    for text in media:
        now += 10_000_000
        receive(text, now, sink)
    elapsed = time.perf_counter_ns() - started
    assert session.checker.failures == 0
    return elapsed / len(media)


@pytest.mark.skipif(
    not os.environ.get("STREAMLOAD_BENCH"),
    reason="a timing ratio: run with STREAMLOAD_BENCH=1 on a quiet machine",
)
def test_the_tap_costs_a_fraction_of_the_session() -> None:
    bare, tapped = [], []
    for _ in range(ROUNDS):
        bare.append(_pass(False))
        tapped.append(_pass(True))
    b, t = min(bare), min(tapped)
    print(f"\nsession.receive {b / 1000:.2f} µs, with the tap {t / 1000:.2f} µs")
    assert t <= b * 1.6 + 500  # under ~1 µs on top of the session


@pytest.mark.benchmark(group="receiver per media message")
@pytest.mark.parametrize("tap", [False, True], ids=["session", "session+tap"])
def test_bench_receive(benchmark: BenchmarkFixture, tap: bool) -> None:
    benchmark(_pass, tap)
