"""The receiver's per-message path, and what the histograms add to it.

The loop pays ``session.receive`` into the recorder's batch per message; the
three histograms are counted a flush at a time on the writer thread
(:meth:`receivers.distributions.Distributions.fold`). Their cost per frame must
stay a small share of the session's own. Interleaved rounds, best of each, so
a noisy neighbour hits both alike; 400 streams a second, as the receiver
benchmark's knee (docs/performance.md §2).
"""

from __future__ import annotations

import os
import time

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from harness.core.session import StreamSession
from harness.io.sink import Batch, ColumnBuffer
from receivers.distributions import Distributions, Frames
from tests.streams import valid_stream


ROUNDS = 9
STREAMS = 400
CHUNKS = 50  # one second of 20 ms frames


def _streams() -> list[tuple[list[str], list[str]]]:
    out = []
    for i in range(STREAMS):
        sid = f"{i:08x}-536d-4a45-b4fb-ed3d55be843b"
        texts, _ = valid_stream("PCMU", "inbound_track", 2, CHUNKS, stream_sid=sid)
        out.append((texts[:2], texts[2:-1]))
    return out


def _second(streams: list[tuple[list[str], list[str]]]) -> tuple[float, float]:
    """Nanoseconds per media message: (sessions into a batch, the fold of it)."""
    batch = Batch("frames")
    sessions = []
    for opening, _ in streams:
        session = StreamSession(0)
        for text in opening:
            session.receive(text, 0, batch)
        sessions.append(session)
    now = time.monotonic_ns()
    started = time.perf_counter_ns()
    for chunk in range(CHUNKS):  # arrivals interleaved as on the wire
        for session, (_, media) in zip(sessions, streams, strict=True):
            now += 50_000
            session.receive(media[chunk], now, batch)
    received = time.perf_counter_ns()
    codecs = {s.stream_sid: s.codec for s in sessions}
    assert isinstance(batch.columns, ColumnBuffer)
    taken = Distributions("bench").fold(Frames.of_buffer(batch.columns), codecs)
    folded = time.perf_counter_ns()
    assert all(s.checker.failures == 0 for s in sessions)
    assert sum(sum(c.values()) for m, *_, c in taken.snapshot if m[0] == "t") == (
        STREAMS * CHUNKS
    )
    n = STREAMS * CHUNKS
    return (received - started) / n, (folded - received) / n


@pytest.mark.skipif(
    not os.environ.get("STREAMLOAD_BENCH"),
    reason="a timing ratio: run with STREAMLOAD_BENCH=1 on a quiet machine",
)
def test_the_histograms_cost_a_fraction_of_the_session() -> None:
    streams = _streams()
    rounds = [_second(streams) for _ in range(ROUNDS)]
    session = min(r[0] for r in rounds)
    fold = min(r[1] for r in rounds)
    print(f"\nsession.receive {session / 1000:.2f} µs, the fold {fold / 1000:.3f} µs")
    assert fold <= session * 0.15  # off the loop, and a small share even so


@pytest.mark.benchmark(group="receiver per media message")
def test_bench_second_of_400_streams(benchmark: BenchmarkFixture) -> None:
    streams = _streams()
    benchmark(_second, streams)
