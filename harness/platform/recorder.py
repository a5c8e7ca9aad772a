"""Collect the platform's record rows on the event loop and write them off it.

The send log is the ground truth for pacing, so recording it must not delay the
frames it times. Two measures:

* Frames are kept columnar (:class:`~harness.sink.ColumnBuffer`: numbers
  packed flat, stream sids as small ints), so a second of send log is a couple
  of flat buffers, not tens of thousands of tuples that Arrow must walk while
  holding the GIL.
* Each flush swaps the buffers out and hands them to a worker thread, the only
  thread that ever touches the :class:`~harness.sink.RecordSink`. Parquet
  encoding and compression run there without the GIL.

Measured on the 2-vCPU box (300 paced streams): writing tuples from the thread
held the GIL long enough to make a 20-40 ms stall every flush.
"""

from __future__ import annotations

import asyncio
import logging
import threading

from harness.sink import Batch, RecordSink, warm_up


__all__ = ["Recorder"]

log = logging.getLogger(__name__)

_FRAMES = "sent_frames"


class Recorder:
    """A :class:`~harness.records.RowSink` for the event loop, flushed by a thread."""

    def __init__(self, sink: RecordSink) -> None:
        self._sink = sink
        self._batch = Batch(_FRAMES)
        self.add = self._batch.add
        """Buffer one row (event-loop thread only): the current batch's own
        ``add``, one call less per frame on the sender's hot path."""
        self._write_lock = threading.Lock()
        self._writes: set[asyncio.Future[None]] = set()
        """Writes handed to a thread and not yet done (never cancelled)."""
        warm_up()

    async def flush(self) -> None:
        """Write every buffered row, and wait for every write still under way.

        Once a batch is swapped out, its write is never cancelled: shutdown
        cancels the periodic flush, and cancelling the executor's future then
        dropped a write still queued for a thread, with every row of the last
        second in it (the ``impairments`` rows the duplicate count is checked
        against, issue 10). Cancelling a flush now only stops its wait; the
        write goes on and the next flush (the one at exit) waits for it.
        A failed write is logged and loses only its own rows.
        """
        batch = self._batch
        if len(batch):
            self._batch = Batch(_FRAMES)
            self.add = self._batch.add
            loop = asyncio.get_running_loop()
            write = loop.run_in_executor(None, self._write, batch)
            self._writes.add(write)
            write.add_done_callback(self._writes.discard)
        if self._writes:
            await asyncio.shield(asyncio.gather(*self._writes))

    async def run(self, interval_s: float) -> None:
        """Flush every ``interval_s`` until cancelled (the caller flushes once more at exit)."""
        while True:
            await asyncio.sleep(interval_s)
            await self.flush()

    def _write(self, batch: Batch) -> None:
        # A flush cancelled on the loop goes on in its thread; the lock keeps a
        # later flush from touching the sink at the same time (writes may start
        # in any order: parts are unordered).
        with self._write_lock:
            try:
                batch.write(self._sink)
            except Exception:
                log.exception("could not write %d record rows", len(batch))
