"""What checking costs per media message, next to what parsing alone costs (issue 4).

(a) parsing: ``msgspec`` decode of the message plus ``a2b_base64`` of its payload,
the least any receiver must do (in a method shaped like ``receive``); (b) the whole :meth:`StreamSession.receive`:
parsing, every WS-* rule, the metrics and the frame row. Both run in the shape
the receiver calls them (one call per message, with a fresh arrival time and a
sink), interleaved round by round so a noisy neighbour hits both alike; the
best round of each is compared. Issue 4: checking at most doubles parsing.

``pytest`` runs these as plain tests (the default ``--benchmark-disable`` makes
the ``benchmark`` ones run once); ``pytest tests/benchmarks --benchmark-enable``
times them properly. ``-s`` shows the measured numbers.
"""

from __future__ import annotations

import binascii
import os
import time
from collections.abc import Callable

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from harness.core import messages as m
from harness.core.records import MemorySink, RowSink
from harness.core.session import StreamSession
from tests.streams import valid_stream


ROUNDS = 25
CHUNKS = 400
Receive = Callable[[str, int, RowSink], None]


def _stream(codec: str) -> tuple[list[str], list[str]]:
    """The opening messages and the media messages of one valid stream."""
    texts, _ = valid_stream(codec, "both_tracks", 2, CHUNKS)
    return texts[:2], texts[2:-1]


class _Parser:
    """Parsing alone, shaped like the session: a bound method, a decoder per connection."""

    __slots__ = ("_decoder",)

    def __init__(self) -> None:
        self._decoder = m.decoder()

    def receive(self, data: str, arrival_ns: int, sink: RowSink) -> None:
        message = self._decoder.decode(data)
        if type(message) is m.Media:
            binascii.a2b_base64(message.media.payload, strict_mode=True)


def _parser() -> Receive:
    return _Parser().receive


def _session(opening: list[str]) -> Receive:
    session, sink = StreamSession(0), MemorySink()
    for text in opening:
        session.receive(text, 0, sink)
    return session.receive


def _per_message(receive: Receive, media: list[str]) -> float:
    """Nanoseconds per message of one pass over ``media``."""
    sink = MemorySink()
    now = time.monotonic_ns()
    started = time.perf_counter_ns()
    for data in media:
        now += 20_000_000
        receive(data, now, sink)
    return (time.perf_counter_ns() - started) / len(media)


def measure(codec: str, rounds: int = ROUNDS) -> tuple[float, float]:
    """Best-of-``rounds`` ns per media message: (parse only, whole session)."""
    opening, media = _stream(codec)
    parse, check = [], []
    for _ in range(rounds):
        parse.append(_per_message(_parser(), media))
        check.append(_per_message(_session(opening), media))
    return min(parse), min(check)


@pytest.mark.skipif(
    not os.environ.get("STREAMLOAD_BENCH"),
    reason="a timing ratio: run with STREAMLOAD_BENCH=1 on a quiet machine",
)
@pytest.mark.parametrize("codec", ["PCMU", "L16@16000h"])
def test_checking_at_most_doubles_the_cost_of_parsing(codec: str) -> None:
    parse_ns, session_ns = measure(codec)
    print(
        f"\n{codec}: parse {parse_ns / 1000:.2f} µs, session.receive "
        f"{session_ns / 1000:.2f} µs per media message "
        f"({session_ns / parse_ns:.2f} x)"
    )
    assert session_ns <= 2 * parse_ns


def test_the_timed_messages_are_conformant_and_take_the_fast_path() -> None:
    """The measurement is of conformant traffic: no message fell to the per-rule path."""
    opening, media = _stream("PCMU")
    session, sink = StreamSession(0), MemorySink()
    for i, text in enumerate([*opening, *media], start=1):
        session.receive(text, i, sink)
    assert session.checker.failures == 0
    assert session.frames == len(media)
    # each track's first frame takes the per-rule path; the rest wait to be settled
    assert session.checker.counts["WS-MEDIA-003"].checks == 2
    session.settle()
    assert session.checker.counts["WS-MEDIA-003"].checks == len(media)


@pytest.mark.benchmark(group="per media message")
def test_bench_parse(benchmark: BenchmarkFixture) -> None:
    _, media = _stream("PCMU")
    benchmark(lambda: _per_message(_parser(), media))


@pytest.mark.benchmark(group="per media message")
def test_bench_session(benchmark: BenchmarkFixture) -> None:
    opening, media = _stream("PCMU")
    benchmark(lambda: _per_message(_session(opening), media))
