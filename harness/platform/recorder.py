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
        warm_up()

    async def flush(self) -> None:
        """Write every buffered row; a failure is logged and loses only those rows."""
        batch = self._batch
        if not len(batch):
            return
        self._batch = Batch(_FRAMES)
        self.add = self._batch.add
        try:
            await asyncio.to_thread(self._write, batch)
        except Exception:
            log.exception("could not write %d record rows", len(batch))

    async def run(self, interval_s: float) -> None:
        """Flush every ``interval_s`` until cancelled (the caller flushes once more at exit)."""
        while True:
            await asyncio.sleep(interval_s)
            await self.flush()

    def _write(self, batch: Batch) -> None:
        # A flush cancelled on the loop goes on in its thread; the lock keeps a
        # later flush from touching the sink at the same time.
        with self._write_lock:
            batch.write(self._sink)
