"""harness.io.health: the shared probe on a real loop, stopped or cancelled."""

from __future__ import annotations

import asyncio
import gc
import time
from typing import Any

from harness.core.records import MemorySink
from harness.io.health import Probe, rss_bytes


MS = 1_000_000


def test_rss_is_read_from_proc() -> None:
    assert rss_bytes() > 10 * 2**20


def test_a_stop_event_ends_the_probe_with_a_last_row() -> None:
    sink = MemorySink()
    probe = Probe("p-1", "platform", sink)

    async def scenario() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(probe.run(stop, interval=0.02, period=0.005))
        await asyncio.sleep(0.01)
        time.sleep(0.03)  # hold the loop: the probe must see it
        await asyncio.sleep(0.05)
        stop.set()
        await asyncio.wait_for(task, 5)

    asyncio.run(scenario())
    rows: list[tuple[Any, ...]] = sink.rows["health"]
    assert len(rows) >= 2 and rows[-1] == probe.last
    assert {r[:2] for r in rows} == {("p-1", "platform")}
    assert probe.figures.interval_ns > 0
    assert max(r[8] for r in rows) >= 20 * MS
    assert sink.rows["histograms"] == []  # only drain() writes them
    probe.drain()
    counts: list[tuple[Any, ...]] = sink.rows["histograms"]
    assert sum(r[5] for r in counts) == sum(r[6] for r in rows)
    assert probe._callback is None


def test_cancelling_the_probe_uninstalls_its_gc_callback() -> None:
    sink = MemorySink()
    ticks = iter(range(0, 10**12, MS))
    probe = Probe("p-2", "receiver", sink, clock=lambda: next(ticks))
    before = len(gc.callbacks)

    async def scenario() -> None:
        task = asyncio.create_task(probe.run(interval=1.0, period=0.001))
        await asyncio.sleep(0.01)
        assert len(gc.callbacks) == before + 1
        gc.collect()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(scenario())
    assert len(gc.callbacks) == before
    last: tuple[Any, ...] = sink.rows["health"][-1]
    assert last == probe.last  # the last row on cancel
    assert last[9] >= 1  # the collection was timed
