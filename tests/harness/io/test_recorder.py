"""harness.io.recorder: rows buffered on the loop reach Parquet through one writer
thread; a cancel never loses a queued batch; the backlog is bounded, drops counted."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import threading
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from harness.core.records import TABLES
from harness.io.recorder import (
    BACKLOG_ENV,
    MAX_ROWS,
    WRITER_NICE,
    Recorder,
    lower_priority,
    max_rows_from_env,
)
from harness.io.sink import RecordSink
from tests.harness.platform.support import run


FRAME = ("sid-1", "inbound", 1, 2, 0, 123, 160, 0.0)
SENT = [
    ("s1", "inbound", 1, 2, 10, 11, 160, 11),
    ("s1", "outbound", 1, 3, 10, 12, 160, 0),
    ("s2", "inbound", 1, 2, 15, 16, 640, 21),
    ("s1", "inbound", 2, 4, 30, 31, 160, 31),
]
IMPAIRMENT = ("s", "inbound", 7, "duplicate", 0, 1, "")
EMPTY_HEALTH: list[list[object]] = [[] for _ in TABLES["health"]]
"""A part with no rows, whose build holds the writer thread in the tests."""


def read(run_dir: Path, table: str) -> list[dict[str, object]]:
    files = sorted((run_dir / "records" / table).glob("*.parquet"))
    return [row for f in files for row in pq.read_table(f).to_pylist()]


def frame(chunk: int) -> tuple[object, ...]:
    return (*FRAME[:2], chunk, *FRAME[3:])


def test_flush_writes_rows_column_for_column_and_no_empty_part(tmp_path: Path) -> None:
    async def main() -> None:
        recorder = Recorder(RecordSink(tmp_path, "p", "platform"), "sent_frames")
        for row in SENT[:3]:
            recorder.add("sent_frames", row)
        await recorder.flush()
        recorder.add("sent_frames", SENT[3])
        await recorder.flush()
        await recorder.flush()  # nothing pending: no empty file
        await recorder.close()

    run(main())
    assert [tuple(r.values()) for r in read(tmp_path, "sent_frames")] == SENT
    assert len(list((tmp_path / "records" / "sent_frames").glob("*.parquet"))) == 2
    (producer,) = read(tmp_path, "producers")
    assert producer["kind"] == "platform"
    manifest = json.loads((tmp_path / "producers" / "p.json").read_text())
    assert manifest["complete"] is True and manifest["rows_failed"] == {}


def test_the_first_flush_writes_the_producers_row_alone(tmp_path: Path) -> None:
    async def main() -> None:
        recorder = Recorder(RecordSink(tmp_path, "r", "receiver"), "frames")
        await recorder.flush()  # the receiver does this before serving
        assert len(read(tmp_path, "producers")) == 1
        await recorder.close()

    run(main())


def test_run_hands_over_on_interval_and_on_size_until_stopped(tmp_path: Path) -> None:
    async def main() -> None:
        recorder = Recorder(
            RecordSink(tmp_path, "r", "receiver"), "frames", flush_rows=10
        )
        stop = asyncio.Event()
        task = asyncio.create_task(recorder.run(3600, stop, tick=0.01))
        for chunk in range(1, 11):
            recorder.add("frames", frame(chunk))
        async with asyncio.timeout(5):  # the size, long before the hour
            while not read(tmp_path, "frames"):
                await asyncio.sleep(0.01)
        stop.set()
        await task
        await recorder.close()

    run(main())
    assert [f["chunk"] for f in read(tmp_path, "frames")] == list(range(1, 11))


def test_before_flush_hooks_add_rows_and_a_failing_one_loses_nothing(
    tmp_path: Path,
) -> None:
    async def main() -> None:
        def broken() -> None:
            raise RuntimeError("summary failed")

        recorder = Recorder(RecordSink(tmp_path, "r", "receiver"), "frames")
        recorder.before_flush += [
            broken,
            lambda: recorder.add(
                "histograms", ("r", "jitter_ns", "PCMU", "inbound", 3, 1)
            ),
        ]
        recorder.add("frames", FRAME)
        await recorder.close()

    run(main())
    assert len(read(tmp_path, "frames")) == 1
    assert [r["count"] for r in read(tmp_path, "histograms")] == [1]


def test_a_failed_write_is_counted_with_its_rows_and_in_the_manifest(
    tmp_path: Path,
) -> None:
    (tmp_path / "records").write_text("a file where a directory should be")

    async def main() -> Recorder:
        recorder = Recorder(RecordSink(tmp_path, "r", "receiver"), "frames")
        for chunk in range(1, 4):
            recorder.add("frames", frame(chunk))
        await recorder.close()
        return recorder

    recorder = run(main())
    assert recorder.loss.failed == {"frames": 3, "producers": 1}
    assert recorder.loss.write_errors == 2 and not recorder.loss.complete
    assert recorder.loss.stats()["records_failed"] == 4
    manifest = json.loads((tmp_path / "producers" / "r.json").read_text())
    assert manifest["rows_failed"] == {"frames": 3, "producers": 1}
    assert manifest["first_mono_ns"] > 0 and "Not a directory" in manifest["last_error"]


def test_a_flush_cancelled_before_its_write_starts_loses_no_rows(
    tmp_path: Path,
) -> None:
    """Shutdown cancels the periodic flush; a write still queued for the thread
    must still happen (issue 10: impairment rows missing at shutdown)."""

    async def main() -> None:
        busy = threading.Event()
        recorder = Recorder(RecordSink(tmp_path, "p", "platform"), "sent_frames")
        recorder.defer("health", lambda: (busy.wait(), EMPTY_HEALTH)[1])
        recorder.hand_off()  # the one writer thread is taken
        recorder.add("impairments", IMPAIRMENT)
        flushing = asyncio.create_task(recorder.flush())
        await asyncio.sleep(0.05)  # the batch is swapped out, its write queued
        flushing.cancel()
        await asyncio.gather(flushing, return_exceptions=True)
        busy.set()
        await recorder.close()  # the final flush at exit

    run(main())
    rows = read(tmp_path, "impairments")
    assert [(r["chunk"], r["kind"]) for r in rows] == [(7, "duplicate")]


@pytest.mark.parametrize("straight", [False, True], ids=["add", "buffer"])
def test_a_writer_behind_bounds_the_backlog_and_counts_every_dropped_frame(
    tmp_path: Path, straight: bool
) -> None:
    """A starved writer: at most the bound (plus one tick of rows) waits in
    memory; frames beyond it are dropped, counted exactly; other rows are kept.
    Frames written straight into :attr:`Recorder.buffer` (as the platform's send
    log is) are bounded and counted the same way."""
    bound, burst, bursts = 100, 40, 10

    async def main() -> tuple[Recorder, int]:
        busy = threading.Event()
        recorder = Recorder(
            RecordSink(tmp_path, "r", "receiver"), "frames", max_rows=bound
        )
        recorder.defer("health", lambda: (busy.wait(), EMPTY_HEALTH)[1])
        recorder.hand_off()  # the writer is stuck on this part
        stop = asyncio.Event()
        task = asyncio.create_task(recorder.run(0.02, stop, tick=0.01))
        peak, chunk = 0, 0
        for _ in range(bursts):
            for _ in range(burst):
                chunk += 1
                if straight:
                    recorder.buffer.add(frame(chunk))
                else:
                    recorder.add("frames", frame(chunk))
            recorder.add("impairments", IMPAIRMENT)  # never dropped
            peak = max(peak, recorder.backlog)
            await asyncio.sleep(0.03)
        assert recorder.loss.dropped["frames"] > 0
        busy.set()  # the writer catches up: frames are kept again
        async with asyncio.timeout(5):
            while recorder.backlog:
                await asyncio.sleep(0.01)
        recorder.check()
        recorder.add("frames", frame(chunk + 1))
        stop.set()
        await task
        await recorder.close()
        return recorder, peak

    recorder, peak = run(main())
    assert peak <= bound + burst + bursts
    written = [f["chunk"] for f in read(tmp_path, "frames")]
    dropped = recorder.loss.dropped["frames"]
    assert len(written) + dropped == burst * bursts + 1
    assert written[-1] == burst * bursts + 1  # after catching up, kept again
    assert len(read(tmp_path, "impairments")) == bursts
    manifest = json.loads((tmp_path / "producers" / "r.json").read_text())
    assert manifest["rows_dropped"] == {"frames": dropped}
    assert manifest["complete"] is False


def test_the_bound_comes_from_the_environment_or_the_default() -> None:
    assert max_rows_from_env({}) == MAX_ROWS
    assert max_rows_from_env({BACKLOG_ENV: "50"}) == 50
    assert max_rows_from_env({BACKLOG_ENV: "-1"}) == MAX_ROWS
    assert max_rows_from_env({BACKLOG_ENV: "many"}) == MAX_ROWS


@pytest.mark.skipif(
    sys.platform != "linux", reason="a nice value per thread is Linux's"
)
def test_the_writer_thread_alone_runs_at_writer_nice(tmp_path: Path) -> None:
    """Issue 14: the writer's CPU bursts must yield to the loop, not the loop to them."""
    seen: list[tuple[int, int]] = []

    def note() -> list[list[object]]:
        seen.append((threading.get_native_id(), os.getpriority(os.PRIO_PROCESS, 0)))
        return EMPTY_HEALTH

    async def main() -> None:
        recorder = Recorder(RecordSink(tmp_path, "p", "platform"), "sent_frames")
        loop_thread = threading.get_native_id()
        recorder.defer("health", note)
        await recorder.close()
        seen.append((loop_thread, os.getpriority(os.PRIO_PROCESS, 0)))

    base = os.getpriority(os.PRIO_PROCESS, 0)
    run(main())
    (writer, writer_nice), (loop, loop_nice) = seen
    assert writer != loop
    assert writer_nice == max(base, WRITER_NICE) and loop_nice == base
    assert read(tmp_path, "producers")  # and it still writes


def test_lower_priority_keeps_the_thread_as_it_is_for_zero() -> None:
    done: list[int] = []

    def probe() -> None:
        before = os.getpriority(os.PRIO_PROCESS, 0)
        lower_priority(0)
        done.append(os.getpriority(os.PRIO_PROCESS, 0) - before)

    thread = threading.Thread(target=probe)
    thread.start()
    thread.join(5)
    assert done == [0]


def test_a_hook_reads_the_hot_rows_of_the_batch_about_to_be_handed_off(
    tmp_path: Path,
) -> None:
    """The receiver's histograms read the flush's frames this way (receivers/__main__.py)."""
    seen: list[int] = []

    async def main() -> None:
        recorder = Recorder(RecordSink(tmp_path, "r", "receiver"), "frames")
        recorder.before_flush.append(lambda: seen.append(len(recorder.hot_rows)))
        recorder.add("frames", frame(1))
        recorder.add("frames", frame(2))
        await recorder.flush()
        recorder.add("frames", frame(3))
        await recorder.close()

    run(main())
    assert seen == [2, 1]  # each flush's own rows, none twice
    assert [r["chunk"] for r in read(tmp_path, "frames")] == [1, 2, 3]


def test_hot_rows_refuses_a_producers_own_packing(tmp_path: Path) -> None:
    from harness.platform.sendlog import SendLog

    async def main() -> None:
        recorder = Recorder(
            RecordSink(tmp_path, "p", "platform"), "sent_frames", buffer=SendLog
        )
        with pytest.raises(TypeError, match="SendLog"):
            recorder.hot_rows  # noqa: B018
        await recorder.close()

    run(main())
