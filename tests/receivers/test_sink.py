"""receivers.sink: rows buffered on the loop reach Parquet through the worker."""

from __future__ import annotations

import asyncio
from pathlib import Path

from harness.sink import RecordSink
from receivers.sink import BatchSink
from tests.receivers.helpers import read_table, run_async, wait_for


FRAME = ("sid-1", "inbound", 1, 2, 0, 123, 160, 0.0)


def test_flush_writes_buffered_rows(tmp_path: Path) -> None:
    async def scenario() -> int:
        sink = BatchSink(RecordSink(tmp_path, "r", "receiver"))
        for chunk in range(1, 101):
            sink.add("frames", (*FRAME[:2], chunk, *FRAME[3:]))
        pending = sink.pending
        await sink.close()
        return pending

    assert run_async(scenario) == 100
    frames = read_table(tmp_path, "frames")
    assert [f["chunk"] for f in frames] == list(range(1, 101))
    assert len(read_table(tmp_path, "producers")) == 1


def test_run_flushes_on_interval_and_on_size(tmp_path: Path) -> None:
    def parts() -> int:
        return len(list((tmp_path / "records" / "frames").glob("*.parquet")))

    async def scenario() -> None:
        sink = BatchSink(RecordSink(tmp_path, "r", "receiver"), flush_rows=10)
        stop = asyncio.Event()
        task = asyncio.create_task(sink.run(stop, interval=0.05, tick=0.01))
        sink.add("frames", FRAME)
        await wait_for(lambda: parts() == 1)  # the interval
        runner = BatchSink(RecordSink(tmp_path / "big", "r", "receiver"), flush_rows=10)
        big = asyncio.create_task(runner.run(stop, interval=3600, tick=0.01))
        for _ in range(10):
            runner.add("frames", FRAME)
        await wait_for(lambda: runner.pending == 0)  # the size, long before the hour
        stop.set()
        await asyncio.gather(task, big)
        await sink.close()
        await runner.close()

    run_async(scenario)
    assert len(read_table(tmp_path / "big", "frames")) == 10


def test_a_failed_write_is_counted_not_raised(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")

    async def scenario() -> int:
        sink = BatchSink(RecordSink(blocker, "r", "receiver"))
        sink.add("frames", FRAME)
        await sink.close()
        return sink.errors

    assert run_async(scenario) == 1


def test_before_flush_hooks_add_rows_and_a_failing_one_loses_nothing(
    tmp_path: Path,
) -> None:
    async def scenario() -> None:
        def broken() -> None:
            raise RuntimeError("summary failed")

        sink = BatchSink(RecordSink(tmp_path, "r", "receiver"))
        sink.before_flush += [
            broken,
            lambda: sink.add("histograms", ("r", "jitter_ns", "PCMU", "inbound", 3, 1)),
        ]
        sink.add("frames", FRAME)
        await sink.close()

    run_async(scenario)
    assert len(read_table(tmp_path, "frames")) == 1
    assert [r["count"] for r in read_table(tmp_path, "histograms")] == [1]


def test_a_frame_number_beyond_int64_costs_only_its_row(tmp_path: Path) -> None:
    async def scenario() -> None:
        sink = BatchSink(RecordSink(tmp_path, "r", "receiver"))
        sink.add("frames", FRAME)
        sink.add("frames", (*FRAME[:2], 10**20, *FRAME[3:]))
        sink.add("frames", (*FRAME[:2], 3, *FRAME[3:]))
        await sink.close()

    run_async(scenario)
    assert [f["chunk"] for f in read_table(tmp_path, "frames")] == [1, 3]
