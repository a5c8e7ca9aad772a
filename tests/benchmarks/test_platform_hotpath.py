"""Per-frame cost of the reference platform's sender: formatting and logging.

``pytest tests/benchmarks --benchmark-enable`` times them; plain ``pytest``
runs each once. The whole-process number (streams paced within 2 ms) comes
from ``scripts/bench_platform.py``; these pin the pieces it is made of so a
regression shows up here first. Budgets are loose (a shared 2-core box):
what a paced frame costs in total is ~9 µs, dominated by TLS and the socket.
Framing and masking are picows's (Cython); the streamer tests check them
against a websockets receiver, which refuses unmasked client frames.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from harness.messages import media_json
from harness.platform.recorder import Recorder
from harness.platform.streamer import payloads
from harness.sink import RecordSink


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
def test_bench_media_json(benchmark: BenchmarkFixture) -> None:
    payload = payloads("PCMU", "big", "inbound")[0]
    assert benchmark(_format_pass, payload) > N * 300
