"""Per-frame cost of the reference platform's sender: framing, formatting, logging.

``pytest tests/benchmarks --benchmark-enable`` times them; plain ``pytest``
runs each once. The whole-process number (streams paced within 2 ms) comes
from ``scripts/bench_platform.py``; these pin the pieces it is made of so a
regression shows up here first. Budgets are loose (a shared 2-core box):
what a paced frame costs in total is ~20 µs, dominated by TLS and the socket.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest
from pytest_benchmark.fixture import BenchmarkFixture
from websockets.frames import Frame, Opcode
from websockets.streams import StreamReader

from harness.messages import media_json
from harness.platform.recorder import Recorder
from harness.platform.streamer import payloads, ws_text_frame
from harness.sink import RecordSink


N = 20_000


def _frames() -> list[bytes]:
    payload = payloads("PCMU", "big", "inbound")[0]
    return [
        media_json(i, "inbound", i, (i - 1) * 20, payload).encode()
        for i in range(1, N + 1)
    ]


def _frame_pass(messages: list[bytes]) -> int:
    rng = random.Random(1)
    return sum(len(ws_text_frame(m, rng)) for m in messages)


def test_frames_parse_as_masked_text_frames() -> None:
    rng = random.Random(2)
    for size in (0, 125, 126, 390, 65535, 65536):
        message = bytes(random.Random(size).randrange(32, 127) for _ in range(size))
        reader = StreamReader()
        reader.feed_data(ws_text_frame(message, rng))
        parser = Frame.parse(reader.read_exact, mask=True)
        try:
            next(parser)
        except StopIteration as done:
            frame = done.value
        assert (frame.opcode, frame.fin, frame.data) == (Opcode.TEXT, True, message)


def test_framing_and_formatting_cost_a_few_microseconds() -> None:
    """Formatting plus framing must stay a small share of a frame's ~20 µs."""
    payload = payloads("PCMU", "big", "inbound")[0]
    rng = random.Random(3)
    times = []
    for _ in range(5):
        started = time.perf_counter_ns()
        for i in range(1, N + 1):
            ws_text_frame(media_json(i, "inbound", i, i * 20, payload).encode(), rng)
        times.append((time.perf_counter_ns() - started) / N)
    print(f"\nmedia_json + ws_text_frame: {min(times):.0f} ns per frame")
    assert min(times) < 10_000  # ~1 µs on a quiet core; the box is shared


def test_send_log_rows_cost_a_few_microseconds(tmp_path: Path) -> None:
    recorder = Recorder(RecordSink(tmp_path, "bench", "platform"))
    sids = [f"stream-{i}" for i in range(500)]
    times = []
    for _ in range(3):
        started = time.perf_counter_ns()
        for i in range(N):
            recorder.add("sent_frames", (sids[i % 500], "inbound", i, i, i, i, 160, i))
        times.append((time.perf_counter_ns() - started) / N)
    print(f"\nRecorder.add(sent_frames): {min(times):.0f} ns per row")
    assert min(times) < 5_000  # ~0.6 µs on a quiet core; the box is shared


@pytest.mark.benchmark(group="platform per frame")
def test_bench_ws_text_frame(benchmark: BenchmarkFixture) -> None:
    messages = _frames()
    assert benchmark(_frame_pass, messages) > N * 300
