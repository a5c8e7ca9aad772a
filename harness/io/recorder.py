"""The one record writer of every asyncio producer: rows on the loop, Parquet off it.

Writing a second of frames as Parquet costs about 1 µs per row (~50 ms at
45k frames/s). Done on the event loop, that stall would land in the very
times the producer measures (a receiver's arrival stamps, the platform's send
log), so the loop only appends to a :class:`harness.io.sink.Batch` (the hot table
columnar, see :class:`harness.io.sink.ColumnBuffer`); a flush swaps the batch out
(atomic on the loop) and hands it to one worker thread, the only thread that
touches the :class:`harness.io.sink.RecordSink`.

Two promises:

* **A batch handed to the writer is never lost to a cancel.** Shutdown cancels
  the periodic flush; cancelling the executor's future used to drop a write
  still queued for the thread, with every row of the last second in it (issue
  10). Cancelling a flush only stops its wait; the write goes on and the next
  flush (the one at exit) waits for it.
* **Bounded.** When the writer falls behind (a saturated core starves its
  thread), rows wait in memory. At most ``max_rows`` rows wait (default
  :data:`MAX_ROWS`, or ``STREAMLOAD_RECORD_BACKLOG_ROWS``); beyond that, rows of
  the hot table (frames, the bulk) are dropped from the records until the
  writer catches up, and counted exactly in :attr:`loss` (``records_dropped``
  in the stats line and the producer's manifest), with when it began and
  ended. Every other row (streams, violations, health) is always kept: they
  are few and the accounting needs each one. No backpressure: slowing the
  socket reads would move the very latencies being measured.

A failed write loses only its own rows, counted in the same :attr:`loss`.

The writer thread runs at nice :data:`WRITER_NICE` (Linux, that thread only).
It holds the GIL for almost none of its work (``py-spy --gil``: 3 of 2,288
samples; Arrow and Parquet release it), but its CPU bursts (~12 ms of zstd and
copies per 50,000 rows) shared the core of a busy loop at equal weight, and the
loop's 1 ms timers waited behind them: 5-30 ms of loop lag once a second, the
record flush's cadence (issue 14, ``scripts/bench_flush.py``,
docs/performance.md "The record writer at nice 19"). At nice 19 the kernel
runs it in the loop's idle time instead; a core saturated by others still
gives it ~1.5 % of their share, and beyond that the bound below holds.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor

from harness.core.record_loss import RecordLoss
from harness.io.sink import Batch, ColumnBuffer, Columns, HotBuffer, RecordSink, warm_up


__all__ = [
    "BACKLOG_ENV",
    "MAX_ROWS",
    "WRITER_NICE",
    "Recorder",
    "lower_priority",
    "max_rows_from_env",
]

logger = logging.getLogger(__name__)

MAX_ROWS = 2_000_000
"""Rows that may wait for the writer: ~45 s of a receiver's peak frame rate,
~100 MB of packed frames."""
BACKLOG_ENV = "STREAMLOAD_RECORD_BACKLOG_ROWS"
WRITER_NICE = 19
"""The writer thread's nice value: the lowest priority short of ``SCHED_IDLE``
(measured as good here, but 5x more easily starved by other processes)."""


def lower_priority(nice: int) -> None:
    """Set the calling thread's nice value (a thread pool's initializer).

    Linux keeps a nice value per thread, so this leaves the event loop's thread
    as it is; elsewhere it would be the whole process's, so it does nothing.
    A refusal is logged, not raised: the records matter more than the lag.
    """
    if nice <= 0 or sys.platform != "linux":
        return
    try:
        os.setpriority(os.PRIO_PROCESS, 0, nice)
    except OSError as exc:
        logger.warning("record writer: could not set nice %d: %s", nice, exc)


def max_rows_from_env(environ: Mapping[str, str] | None = None) -> int:
    """The backlog bound: ``STREAMLOAD_RECORD_BACKLOG_ROWS`` or :data:`MAX_ROWS`.

    A tuning knob (tests set it tiny to drive the bound): a value that is not a
    positive integer is logged and the default used, rather than stopping a
    producer that is already part of a run.
    """
    env = os.environ if environ is None else environ
    text = env.get(BACKLOG_ENV, "")
    if not text:
        return MAX_ROWS
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        logger.warning(
            "%s=%r is not a positive integer; using %d", BACKLOG_ENV, text, MAX_ROWS
        )
        return MAX_ROWS
    return value


class Recorder:
    """A :class:`harness.core.records.RowSink` for the event loop, written by one thread.

    Args:
        records: where rows end up; after construction only the writer touches it.
        hot: the table kept columnar (and dropped first when the writer is behind).
        flush_rows: hand a batch over before its interval once it holds this many.
        before_flush: called on the loop at the start of every flush, to add
            summaries (histogram counts) that belong to the same batch.
        max_rows: rows that may wait (buffered plus handed over, not yet
            written); ``None``: :func:`max_rows_from_env`.
        writer_nice: the writer thread's nice value (:data:`WRITER_NICE`; 0:
            the loop's priority, as before issue 14).
        buffer: the hot table's buffer type (:class:`~harness.io.sink.ColumnBuffer`,
            or a producer's own packing that it fills through :attr:`buffer`).
    """

    def __init__(
        self,
        records: RecordSink,
        hot: str,
        *,
        flush_rows: int = 50_000,
        before_flush: Sequence[Callable[[], object]] = (),
        max_rows: int | None = None,
        writer_nice: int = WRITER_NICE,
        buffer: Callable[[str], HotBuffer] = ColumnBuffer,
    ) -> None:
        self.records = records
        self.loss: RecordLoss = records.loss
        self.hot = hot
        self.flush_rows = flush_rows
        self.before_flush = list(before_flush)
        self.max_rows = max_rows_from_env() if max_rows is None else max_rows
        self._new_buffer = buffer
        self._batch = Batch(hot, buffer)
        self.add: Callable[[str, tuple[object, ...]], None] = self._batch.add
        """Buffer one row (event-loop thread only): the current batch's own
        ``add`` while there is room, one call less per frame on the hot path."""
        self.buffer: HotBuffer = self._batch.columns
        """Where hot rows go (event-loop thread only): the current batch's
        buffer, or while the backlog is full a spill buffer whose rows are
        counted as dropped and discarded at every :meth:`check`. Replaced at
        every hand-off and check, so a producer that packs its own rows reads
        it at each write."""
        self._queued = 0
        """Rows handed to the writer and not yet written."""
        self._dropping = False
        self._flushed = False
        self._writes: set[asyncio.Future[None]] = set()
        """Writes handed to the thread and not yet done (never cancelled)."""
        warm_up()
        self._executor = ThreadPoolExecutor(
            max_workers=1,
            thread_name_prefix="records",
            initializer=lower_priority,
            initargs=(writer_nice,),
        )

    @property
    def hot_rows(self) -> ColumnBuffer:
        """The hot table's rows of the batch being filled (a :class:`ColumnBuffer`).

        A ``before_flush`` hook that reads it gets the rows about to be handed
        off: read them on the writer thread (in a :meth:`defer` red build),
        never after this batch is swapped out and written.

        Raises:
            TypeError: this recorder packs its hot rows its own way (``buffer``).
        """
        columns = self._batch.columns
        if not isinstance(columns, ColumnBuffer):
            raise TypeError(f"the hot rows are a {type(columns).__name__}")
        return columns

    def defer(self, table: str, build: Columns) -> None:
        """Have the writer build one part of ``table`` (see :meth:`Batch.defer`)."""
        self._batch.defer(table, build)

    @property
    def pending(self) -> int:
        """Rows buffered on the loop and not yet handed to the writer."""
        return len(self._batch)

    @property
    def backlog(self) -> int:
        """Rows in memory: buffered on the loop plus handed over and not yet written."""
        return len(self._batch) + self._queued

    def _drop(self, table: str, row: tuple[object, ...]) -> None:
        """``add`` while the backlog is full: hot rows counted and dropped."""
        if table == self.hot:
            self.loss.drop(table, 1, time.monotonic_ns(), time.time_ns())
        else:
            self._batch.add(table, row)

    def _count_spill(self) -> None:
        """Count the rows written into the spill buffer as dropped, and empty it."""
        if self._dropping and len(self.buffer):
            self.loss.drop(
                self.hot, len(self.buffer), time.monotonic_ns(), time.time_ns()
            )
            self.buffer = self._new_buffer(self.hot)

    def check(self) -> None:
        """Switch to dropping hot rows when the backlog is full, and back once it is not.

        Called on the loop at every tick of :meth:`run` and every flush, so the
        bound holds to within one tick of rows (rows written straight into
        :attr:`buffer` while dropping are counted here, at each tick).
        """
        self._count_spill()
        full = self.backlog >= self.max_rows
        if full and not self._dropping:
            self._dropping = True
            self.add = self._drop
            self.buffer = self._new_buffer(self.hot)
            logger.warning(
                "%s: record writer behind (%d rows waiting, bound %d): dropping "
                "%s rows from the records, counted, until it catches up",
                self.records.producer,
                self.backlog,
                self.max_rows,
                self.hot,
            )
        elif not full and self._dropping:
            self._dropping = False
            self.add = self._batch.add
            self.buffer = self._batch.columns
            logger.warning(
                "%s: record writer caught up; %d %s rows dropped so far",
                self.records.producer,
                self.loss.dropped.get(self.hot, 0),
                self.hot,
            )

    def hand_off(self, *, force: bool = False) -> None:
        """Give the buffered rows to the writer without waiting (loop thread)."""
        for hook in self.before_flush:
            try:
                hook()
            except Exception:  # a summary must never cost the rows
                logger.exception("preparing a flush failed")
        batch = self._batch
        if not (len(batch) or force or not self._flushed):
            return
        self._flushed = True
        self._batch = Batch(self.hot, self._new_buffer)
        self.add = self._drop if self._dropping else self._batch.add
        if not self._dropping:
            self.buffer = self._batch.columns
        rows = len(batch)
        self._queued += rows
        loop = asyncio.get_running_loop()
        write = loop.run_in_executor(self._executor, self._write, batch)
        self._writes.add(write)

        def done(future: asyncio.Future[None]) -> None:
            self._writes.discard(future)
            self._queued -= rows
            self.check()

        write.add_done_callback(done)
        self.check()

    async def flush(self, *, force: bool = False) -> None:
        """Hand every buffered row to the writer, and wait for every write under way.

        Cancelling this only stops the wait (see the module's docstring).
        """
        self.hand_off(force=force)
        if self._writes:
            await asyncio.shield(asyncio.gather(*self._writes))

    async def run(
        self,
        interval: float,
        stop: asyncio.Event | None = None,
        tick: float = 0.1,
    ) -> None:
        """Hand over every ``interval`` s, or sooner when ``flush_rows`` pile up.

        Never waits for the writer, so the bound is checked every ``tick``
        however far behind it is. Returns when ``stop`` is set (or runs until
        cancelled); the caller does the final :meth:`close`.
        """
        stop = stop or asyncio.Event()
        loop = asyncio.get_running_loop()
        due = loop.time() + interval
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), timeout=min(tick, interval))
            except TimeoutError:
                pass
            self.check()
            if loop.time() >= due or self.pending >= self.flush_rows:
                self.hand_off()
                due = loop.time() + interval

    async def close(self) -> RecordLoss:
        """Write what is left, stop the writer and write the producer's manifest."""
        await self.flush(force=True)
        self._executor.shutdown(wait=True)
        self.records.write_manifest()
        return self.loss

    def _write(self, batch: Batch) -> None:
        """Writer thread: move a batch into the record sink and write it."""
        try:
            batch.write(self.records)
        except Exception as exc:  # RecordSink counts its own; this is a bug's
            self.loss.fail(
                "batch", len(batch), repr(exc), time.monotonic_ns(), time.time_ns()
            )
            logger.exception("writing records under %s failed", self.records.root)
