"""The platform's own health rows, sampled on a real uvloop."""

from __future__ import annotations

import asyncio
import gc
import time
from typing import Any

from harness.core.health import LAG_METRIC
from harness.io.sink import MemorySink
from harness.platform.health import Health
from tests.harness.platform.support import run


def test_rows_lag_and_gc_are_recorded() -> None:
    sink = MemorySink()
    health = Health("platform-test", sink)
    assert health.cpu_ratio == 0.0 and health.lag_max_ns == 0

    async def main() -> None:
        task = asyncio.create_task(health.run(interval=0.05, period=0.005))
        await asyncio.sleep(0.03)
        time.sleep(0.03)  # hold the loop: the probe must see it
        gc.collect()
        await asyncio.sleep(0.1)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    run(main())
    rows: list[tuple[Any, ...]] = sink.rows["health"]
    assert len(rows) >= 2  # one per interval, plus the last one on cancel
    for row in rows:
        assert row[:2] == ("platform-test", "platform")
        assert row[3] > 0 and row[4] >= 0 and row[12] > 0  # interval, cpu, rss
    assert max(r[8] for r in rows) >= 20_000_000  # the 30 ms hold shows as lag
    assert sum(r[9] for r in rows) >= 1  # the collection was timed
    assert 0.0 <= health.cpu_ratio <= 2.0
    metrics = {r[1] for r in sink.rows["histograms"]}
    assert metrics == {LAG_METRIC}
    counts: list[tuple[Any, ...]] = sink.rows["histograms"]
    assert sum(r[5] for r in counts) == sum(r[6] for r in rows)
    assert gc.callbacks.count(health._gc) == 0  # uninstalled
