"""Collect record rows on the event loop and write them on one worker thread.

Writing a second of frames as Parquet costs about 1 µs per row (~50 ms at
45k frames/s). Done on the loop, that stall would land in the very arrival
stamps the receiver measures, so the loop only appends tuples to lists; a flush
swaps the lists out (atomic on the loop) and hands them to a single worker
thread that owns the :class:`harness.sink.RecordSink`.

Frames, the bulk, are kept columnar (:class:`harness.sink.ColumnBuffer`), as
the reference platform keeps its send log: Arrow walking a second of frame
tuples with the GIL held would stall the loop for 20-40 ms at every flush.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

from harness.sink import Batch, Columns, RecordSink, warm_up


__all__ = ["BatchSink"]

logger = logging.getLogger("receivers.sink")

_FRAMES = "frames"


class BatchSink:
    """A :class:`harness.records.RowSink` whose writes never block the loop.

    Args:
        records: where rows end up; after construction only the worker thread
            touches it.
        flush_rows: the size at which :meth:`run` flushes before its interval.
        before_flush: called on the loop at the start of every flush, to add
            summaries (histogram counts) that belong to the same batch.
    """

    def __init__(
        self,
        records: RecordSink,
        *,
        flush_rows: int = 50_000,
        before_flush: Sequence[Callable[[], object]] = (),
    ) -> None:
        self.records = records
        self.flush_rows = flush_rows
        self.before_flush = list(before_flush)
        self.errors = 0
        """Flushes that failed (disk full, bad path): rows lost, run incomplete."""
        self._batch = Batch(_FRAMES)
        warm_up()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="records")
        self._lock = asyncio.Lock()

    def add(self, table: str, row: tuple[object, ...]) -> None:
        """Buffer one row (the hot path: frames go into flat columns)."""
        self._batch.add(table, row)

    def defer(self, table: str, build: Columns) -> None:
        """Have the writer thread build one part of ``table`` (see :meth:`Batch.defer`)."""
        self._batch.defer(table, build)

    @property
    def pending(self) -> int:
        """Rows buffered on the loop and not yet handed to the writer."""
        return len(self._batch)

    async def flush(self) -> None:
        """Hand every buffered row to the writer and wait until it is on disk."""
        async with self._lock:
            for hook in self.before_flush:
                try:
                    hook()
                except Exception:  # a summary must never cost the rows
                    logger.exception("preparing a flush failed")
            batch, self._batch = self._batch, Batch(_FRAMES)
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(self._executor, self._write, batch)

    async def run(
        self, stop: asyncio.Event, interval: float, tick: float = 0.1
    ) -> None:
        """Flush every ``interval`` seconds, or sooner when ``flush_rows`` pile up.

        Returns when ``stop`` is set; the caller does the final :meth:`close`.
        """
        loop = asyncio.get_running_loop()
        due = loop.time() + interval
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), timeout=min(tick, interval))
            except TimeoutError:
                pass
            if loop.time() >= due or self.pending >= self.flush_rows:
                await self.flush()
                due = loop.time() + interval

    async def close(self) -> None:
        """Write what is left and stop the worker thread."""
        await self.flush()
        self._executor.shutdown(wait=True)

    def _write(self, batch: Batch) -> None:
        """Worker thread: move a batch into the record sink and write it."""
        try:
            batch.write(self.records)
        except Exception:  # a failed write must not stop the receiver
            self.errors += 1
            logger.exception("writing records under %s failed", self.records.root)
