"""Per-frame cost of the reference platform's sender: formatting and logging.

``pytest tests/benchmarks --benchmark-enable`` times them; plain ``pytest``
runs each once. The whole-process number (streams paced within 2 ms) comes
from ``scripts/bench_platform.py``; these pin the pieces it is made of so a
regression shows up here first. Budgets are loose (a shared 2-core box):
what a paced frame costs in total is ~9 µs on docs/performance.md's VM and 25-30 µs on
this one, dominated by TLS and the socket; ``test_bench_streamer_tick`` times
everything else a frame costs (tick, format, send-log row) without a socket.
Framing and masking are picows's (Cython); the streamer tests check them
against a websockets receiver, which refuses unmasked client frames.
"""

from __future__ import annotations

import ssl
import time
from pathlib import Path

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from harness.core.messages import media_json
from harness.io.recorder import Recorder
from harness.io.sink import RecordSink
from harness.platform.core.dialect import DIALECTS
from harness.platform.lane import Lane, run_bucket
from harness.platform.sendlog import SendLog
from harness.platform.streamer import Counters, Streamer, StreamerSettings, payloads
from tests.harness.platform.support import make_stream


N = 20_000


def _format_pass(payload: str) -> int:
    return sum(
        len(media_json(i, "inbound", i, (i - 1) * 20, payload)) for i in range(1, N + 1)
    )


def test_formatting_costs_a_few_microseconds() -> None:
    """Formatting must stay a small share of a frame's ~9 µs."""
    payload = payloads("PCMU", "big", "inbound")[0]
    times = []
    for _ in range(5):
        started = time.perf_counter_ns()
        for i in range(1, N + 1):
            media_json(i, "inbound", i, i * 20, payload)
        times.append((time.perf_counter_ns() - started) / N)
    print(f"\nmedia_json: {min(times):.0f} ns per frame")
    assert min(times) < 10_000  # well under 1 µs on a quiet core; the box is shared


def test_send_log_rows_cost_a_few_microseconds(tmp_path: Path) -> None:
    recorder = Recorder(RecordSink(tmp_path, "bench", "platform"), "sent_frames")
    sids = [f"stream-{i}" for i in range(500)]
    times = []
    for _ in range(3):
        started = time.perf_counter_ns()
        for i in range(N):
            recorder.add("sent_frames", (sids[i % 500], "inbound", i, i, i, i, 160, i))
        times.append((time.perf_counter_ns() - started) / N)
    print(f"\nRecorder.add(sent_frames): {min(times):.0f} ns per row")
    assert min(times) < 5_000  # ~0.6 µs on a quiet core; the box is shared


def test_the_platform_send_log_costs_less_than_a_row_a_frame() -> None:
    """The platform's own send log: one packed record per chunk (harness/platform/sendlog.py)."""
    log = SendLog()
    keys = [log.key(f"stream-{i}", ("inbound",)) for i in range(500)]
    times = []
    for _ in range(3):
        started = time.perf_counter_ns()
        for i in range(N):
            log.chunk(keys[i % 500], 1, i, i, i, i, 160)
        times.append((time.perf_counter_ns() - started) / N)
    print(f"\nSendLog.chunk: {min(times):.0f} ns per chunk")
    assert len(log) == 3 * N
    assert min(times) < 3_000  # ~0.2 µs on a quiet core; the box is shared


@pytest.mark.benchmark(group="platform per frame")
def test_bench_media_json(benchmark: BenchmarkFixture) -> None:
    payload = payloads("PCMU", "big", "inbound")[0]
    assert benchmark(_format_pass, payload) > N * 300


class _CountingSocket:
    """Stands in for the picows client: counts what would have been sent."""

    open = True
    paused = False

    def __init__(self) -> None:
        self.sent = 0

    def send_text(self, message: str | bytes) -> None:
        self.sent += 1

    def send_frame(self, kind: object, message: str | bytes) -> None:
        self.sent += 1


def _live_streamers(recorder: Recorder, n: int) -> list[Streamer]:
    settings = StreamerSettings(
        account_sid="AC0",
        ssl=ssl.create_default_context(),
        dialect=DIALECTS["signalwire"],
    )
    out = []
    for _ in range(n):
        streamer = Streamer(
            make_stream(track="inbound_track", codec="PCMU"),
            settings,
            recorder,
            Counters(),
        )
        streamer._ws = _CountingSocket()  # type: ignore[assignment]
        streamer._live = True
        out.append(streamer)
    return out


def _lanes(streamers: list[Streamer], recorder: Recorder) -> list[Lane]:
    """Each stream paced through its lane, as ``Streamer._pace`` sets it up."""
    for streamer in streamers:
        assert streamer._ws is not None
        streamer._lane = Lane(
            streamer, streamer._ws, streamer.sender, recorder, streamer._counters, 0
        )
    return [s._lane for s in streamers if s._lane is not None]


def _tick_pass(lanes: list[Lane], frames_each: int) -> int:
    """Every stream's chunk, a bucket of 25 at a time, as the ticker runs them."""
    for k in range(frames_each):
        now = k * 20_000_000
        for lane in lanes:
            lane.due = now
        for i in range(0, len(lanes), 25):
            again, rest = run_bucket(lanes[i : i + 25], now, now)  # type: ignore[arg-type]
            assert len(again) == len(lanes[i : i + 25]) and not rest
    return sum(lane.chunk for lane in lanes)


@pytest.mark.benchmark(group="platform per frame")
def test_bench_streamer_tick(benchmark: BenchmarkFixture, tmp_path: Path) -> None:
    """The whole Python path of one paced frame: the bucket pass, format, send-log record."""
    recorder = Recorder(
        RecordSink(tmp_path, "bench", "platform"), "sent_frames", buffer=SendLog
    )
    streamers = _live_streamers(recorder, 200)
    lanes = _lanes(streamers, recorder)
    sent = benchmark.pedantic(_tick_pass, args=(lanes, 10), rounds=3, iterations=1)
    for streamer in streamers:
        streamer._release_lane()
    chunks = {s.sender.chunk for s in streamers}
    assert len(chunks) == 1 and chunks.pop() % 10 == 0  # one chunk per stream a tick
    assert sent == 200 * streamers[0].sender.chunk
    assert all(s._ws.sent == s.frames_sent for s in streamers)  # type: ignore[union-attr]
    assert len(recorder._batch) == sent  # one send-log row per frame
