"""Rows buffered on the loop reach Parquet through the writer thread."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from pathlib import Path

import pyarrow.parquet as pq

from harness.platform.recorder import Recorder
from harness.sink import RecordSink
from tests.conftest import seconds
from tests.harness.platform.support import run


def read(run_dir: Path, table: str) -> list[dict[str, object]]:
    files = sorted((run_dir / "records" / table).glob("*.parquet"))
    return [row for f in files for row in pq.read_table(f).to_pylist()]


FRAMES = [
    ("s1", "inbound", 1, 2, 10, 11, 160, 11),
    ("s1", "outbound", 1, 3, 10, 12, 160, 0),  # lost in the emulated network
    ("s2", "inbound", 1, 2, 15, 16, 640, 21),
    ("s1", "inbound", 2, 4, 30, 31, 160, 31),
]


def test_flush_writes_buffered_rows_column_for_column(tmp_path: Path) -> None:
    stream_row = ("s1", "c", "", "PCMU", "both_tracks", 0, 1, 2, 3, 4, 3, "stopped", "")

    async def main() -> None:
        recorder = Recorder(RecordSink(tmp_path, "platform", "platform"))
        for row in FRAMES[:3]:
            recorder.add("sent_frames", row)
        recorder.add("platform_streams", stream_row)
        await recorder.flush()
        recorder.add("sent_frames", FRAMES[3])
        await recorder.flush()
        await recorder.flush()  # nothing pending: no empty file

    run(main())
    frames = read(tmp_path, "sent_frames")
    assert [tuple(r.values()) for r in frames] == FRAMES
    assert len(list((tmp_path / "records" / "sent_frames").glob("*.parquet"))) == 2
    assert [tuple(r.values()) for r in read(tmp_path, "platform_streams")] == [
        stream_row
    ]
    (producer,) = read(tmp_path, "producers")
    assert producer["kind"] == "platform"


def test_periodic_flush_runs_until_cancelled(tmp_path: Path) -> None:
    async def main() -> None:
        recorder = Recorder(RecordSink(tmp_path, "p", "platform"))
        task = asyncio.create_task(recorder.run(0.01))
        recorder.add("sent_frames", ("s", "outbound", 1, 2, 10, 11, 160, 11))
        folder = tmp_path / "records" / "sent_frames"
        async with asyncio.timeout(
            seconds(5)
        ):  # the file shows up without an explicit flush
            while not folder.is_dir() or not any(folder.glob("*.parquet")):
                await asyncio.sleep(0.01)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    run(main())
    assert len(read(tmp_path, "sent_frames")) == 1


def test_a_failed_write_is_logged_not_raised(tmp_path: Path) -> None:
    blocker = tmp_path / "records"
    blocker.write_text("a file where a directory should be")

    async def main() -> None:
        recorder = Recorder(RecordSink(tmp_path, "p", "platform"))
        recorder.add("sent_frames", ("s", "inbound", 1, 2, 10, 11, 160, 11))
        await recorder.flush()

    run(main())


def test_a_flush_cancelled_before_its_thread_starts_loses_no_rows(
    tmp_path: Path,
) -> None:
    """Shutdown cancels the periodic flush; a write still queued for a thread must
    still happen (issue 10: impairment rows missing at shutdown)."""

    async def main() -> None:
        loop = asyncio.get_running_loop()
        pool = concurrent.futures.ThreadPoolExecutor(1)
        loop.set_default_executor(pool)
        busy = threading.Event()
        blocker = loop.run_in_executor(None, busy.wait)  # the one thread is taken
        recorder = Recorder(RecordSink(tmp_path, "p", "platform"))
        recorder.add("impairments", ("s", "inbound", 7, "duplicate", 0, 1, ""))
        flushing = asyncio.create_task(recorder.flush())
        await asyncio.sleep(0.05)  # the batch is swapped out, its write queued
        flushing.cancel()
        await asyncio.gather(flushing, return_exceptions=True)
        busy.set()
        await blocker
        await recorder.flush()  # the final flush at exit

    run(main())
    rows = read(tmp_path, "impairments")
    assert [(r["chunk"], r["kind"]) for r in rows] == [(7, "duplicate")]
