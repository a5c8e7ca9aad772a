"""Collect record rows on the event loop and write them on one worker thread.

Writing a second of frames as Parquet costs about 1 µs per row (~50 ms at
45k frames/s). Done on the loop, that stall would land in the very arrival
stamps the receiver measures, so the loop only appends tuples to lists; a flush
swaps the lists out (atomic on the loop) and hands them to a single worker
thread that owns the :class:`harness.sink.RecordSink`.

Frames, the bulk, are kept columnar (one flat ``array`` per column, stream
sids and tracks as small ints), as the reference platform keeps its send log:
turning a second of frame tuples into Arrow walks tens of thousands of Python
objects with the GIL held, a 20-40 ms stall of the loop at every flush, which
would land in the very arrival stamps being measured. From flat arrays the
worker builds Arrow columns in a few copies, and Parquet encoding runs without
the GIL.
"""

from __future__ import annotations

import asyncio
import logging
from array import array
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import cast

import numpy as np

from harness.records import TABLES
from harness.sink import RecordSink, interned_strings


__all__ = ["BatchSink", "Batch"]

logger = logging.getLogger("receivers.sink")

Batch = dict[str, list[tuple[object, ...]]]
"""Rows per table, in the column order of :data:`harness.records.TABLES`."""


def _empty() -> Batch:
    return {table: [] for table in TABLES if table != _FRAMES}


_FRAMES = "frames"
_FrameRow = tuple[str, str, int, int, int, int, int, float]


class _FrameColumns:
    """One flush window of ``frames`` rows, a flat array per column."""

    __slots__ = ("arrival", "chunk", "jitter", "payload", "seq", "sid", "sids",
                 "timestamp", "track", "tracks")  # fmt: skip

    def __init__(self) -> None:
        self.sids: dict[str, int] = {}
        self.tracks: dict[str, int] = {}
        self.sid = array("i")
        self.track = array("i")
        self.chunk = array("q")
        self.seq = array("q")
        self.timestamp = array("q")
        self.arrival = array("q")
        self.payload = array("i")
        self.jitter = array("d")

    def __len__(self) -> int:
        return len(self.chunk)

    def add(self, row: tuple[object, ...]) -> None:
        sid, track, chunk, seq, timestamp, arrival, payload, jitter = cast(
            "_FrameRow", row
        )
        index = self.sids.get(sid)
        if index is None:
            index = self.sids[sid] = len(self.sids)
        t = self.tracks.get(track)
        if t is None:
            t = self.tracks[track] = len(self.tracks)
        n = len(self.chunk)
        try:
            self.chunk.append(chunk)
            self.seq.append(seq)
            self.timestamp.append(timestamp)
            self.arrival.append(arrival)
            self.payload.append(payload)
            self.jitter.append(jitter)
        except (OverflowError, TypeError):
            # A peer's number beyond int64 (chunk "99999999999999999999"): keep
            # the columns aligned and drop this one row, not the whole batch.
            for column in (self.chunk, self.seq, self.timestamp, self.arrival,
                           self.payload, self.jitter):  # fmt: skip
                del column[n:]
            logger.warning("dropped a frame row with an out-of-range number")
            return
        self.sid.append(index)
        self.track.append(t)

    def columns(self) -> list[object]:
        """Arrow/numpy columns in ``TABLES["frames"]`` order (worker thread)."""

        return [
            interned_strings(self.sids, self.sid),
            interned_strings(self.tracks, self.track),
            np.frombuffer(self.chunk, dtype=np.int64),
            np.frombuffer(self.seq, dtype=np.int64),
            np.frombuffer(self.timestamp, dtype=np.int64),
            np.frombuffer(self.arrival, dtype=np.int64),
            np.frombuffer(self.payload, dtype=np.int32),
            np.frombuffer(self.jitter, dtype=np.float64),
        ]


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
        self._rows = _empty()
        self._frames = _FrameColumns()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="records")
        self._lock = asyncio.Lock()

    def add(self, table: str, row: tuple[object, ...]) -> None:
        """Buffer one row (the hot path: frames go into flat columns)."""
        if table == _FRAMES:
            self._frames.add(row)
        else:
            self._rows[table].append(row)

    @property
    def pending(self) -> int:
        """Rows buffered on the loop and not yet handed to the writer."""
        return len(self._frames) + sum(len(rows) for rows in self._rows.values())

    async def flush(self) -> None:
        """Hand every buffered row to the writer and wait until it is on disk."""
        async with self._lock:
            for hook in self.before_flush:
                try:
                    hook()
                except Exception:  # a summary must never cost the rows
                    logger.exception("preparing a flush failed")
            batch, self._rows = self._rows, _empty()
            frames, self._frames = self._frames, _FrameColumns()
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(self._executor, self._write, batch, frames)

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

    def _write(self, batch: Batch, frames: _FrameColumns) -> None:
        """Worker thread: move a batch into the record sink and write it."""
        try:
            if len(frames):
                self.records.write_columns(_FRAMES, frames.columns())
            add = self.records.add
            for table, rows in batch.items():
                for row in rows:
                    add(table, row)
            self.records.flush()
        except Exception:  # a failed write must not stop the receiver
            self.errors += 1
            logger.exception("writing records under %s failed", self.records.root)
