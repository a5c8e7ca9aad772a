"""receivers.health: the loop-lag probe, GC timing and health rows, on a real loop."""

from __future__ import annotations

import asyncio
import gc
import time

from harness.core.records import MemorySink
from receivers.health import Monitor
from tests.receivers.helpers import row_dicts, run_async, wait_for


def test_a_blocked_loop_and_a_gc_pass_show_in_the_rows() -> None:
    sink = MemorySink()

    async def scenario() -> Monitor:
        monitor = Monitor("receiver-1", "receiver", sink)
        stop = asyncio.Event()
        task = asyncio.create_task(monitor.run(stop, interval=0.05, period=0.005))
        await wait_for(lambda: monitor.window.lag_histogram.total >= 3)
        end = time.monotonic() + 0.04
        while time.monotonic() < end:  # hold the loop 40 ms, as a burst would
            pass
        gc.collect()
        await wait_for(lambda: len(sink.rows["health"]) >= 2)
        stop.set()
        await task
        return monitor

    monitor = run_async(scenario)
    rows = row_dicts(sink, "health")
    assert {r["producer"] for r in rows} == {"receiver-1"}
    assert max(r["lag_max_ns"] for r in rows) >= 35_000_000
    assert sum(r["gc_pauses"] for r in rows) >= 1
    assert all(r["interval_ns"] > 0 and r["rss_bytes"] > 0 for r in rows)
    assert sum(r["loop_cpu_ns"] for r in rows) >= 35_000_000  # the busy wait
    assert monitor.last is not None and monitor.last == sink.rows["health"][-1]
    assert monitor._callback is None  # gc.callbacks left as found

    probes = sum(r["lag_samples"] for r in rows)
    monitor.drain()
    counted = row_dicts(sink, "histograms")
    assert {(r["metric"], r["codec"], r["track"]) for r in counted} == {
        ("loop_lag_ns", "", "")
    }
    assert sum(r["count"] for r in counted) == probes
    monitor.drain()  # nothing new: no rows
    assert len(sink.rows["histograms"]) == len(counted)
    stats = monitor.stats()
    assert set(stats) == {"cpu", "lag_p99_ms", "lag_max_ms"}
    assert stats["lag_max_ms"] == round(rows[-1]["lag_max_ns"] / 1e6, 3)


def test_no_stats_figures_before_the_first_row() -> None:
    assert Monitor("receiver-1", "receiver", MemorySink()).stats() == {}
