"""Collect the platform's record rows on the event loop and write them off it.

The send log is the ground truth for pacing, so recording it must not delay the
frames it times. Two measures:

* Frames are kept columnar (``array`` per column, stream sids as small ints),
  so a second of send log is a handful of flat buffers, not tens of thousands
  of tuples that Arrow must walk while holding the GIL.
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
from array import array

import numpy as np
import pyarrow as pa

from harness.records import TABLES
from harness.sink import RecordSink, interned_strings


__all__ = ["Recorder"]

log = logging.getLogger(__name__)

_FRAMES = "sent_frames"


class _FrameColumns:
    """The ``sent_frames`` rows of one flush window, one flat array per column."""

    __slots__ = (
        "chunk",
        "due",
        "payload",
        "sent",
        "seq",
        "sid",
        "sids",
        "track",
        "tracks",
        "wire",
    )

    def __init__(self) -> None:
        self.sids: dict[str, int] = {}
        self.tracks: dict[str, int] = {}
        self.sid = array("i")
        self.track = array("i")
        self.chunk = array("q")
        self.seq = array("q")
        self.due = array("q")
        self.sent = array("q")
        self.payload = array("i")
        self.wire = array("q")

    def __len__(self) -> int:
        return len(self.chunk)

    def add(self, row: tuple[object, ...]) -> None:
        sid, track, chunk, seq, due, sent, payload, wire = row
        assert isinstance(sid, str) and isinstance(track, str)
        index = self.sids.get(sid)
        if index is None:
            index = self.sids[sid] = len(self.sids)
        self.sid.append(index)
        t = self.tracks.get(track)
        if t is None:
            t = self.tracks[track] = len(self.tracks)
        self.track.append(t)
        self.chunk.append(chunk)  # type: ignore[arg-type]
        self.seq.append(seq)  # type: ignore[arg-type]
        self.due.append(due)  # type: ignore[arg-type]
        self.sent.append(sent)  # type: ignore[arg-type]
        self.payload.append(payload)  # type: ignore[arg-type]
        self.wire.append(wire)  # type: ignore[arg-type]

    def columns(self) -> list[object]:
        """Arrow/numpy columns in ``TABLES["sent_frames"]`` order (worker thread)."""

        return [
            interned_strings(self.sids, self.sid),
            interned_strings(self.tracks, self.track),
            np.frombuffer(self.chunk, dtype=np.int64),
            np.frombuffer(self.seq, dtype=np.int64),
            np.frombuffer(self.due, dtype=np.int64),
            np.frombuffer(self.sent, dtype=np.int64),
            np.frombuffer(self.payload, dtype=np.int32),
            np.frombuffer(self.wire, dtype=np.int64),
        ]


class Recorder:
    """A :class:`~harness.records.RowSink` for the event loop, flushed by a thread."""

    def __init__(self, sink: RecordSink) -> None:
        self._sink = sink
        self._rows: dict[str, list[tuple[object, ...]]] = {t: [] for t in TABLES}
        self._frames = _FrameColumns()
        self._write_lock = threading.Lock()
        # Arrow's first conversion of Python objects imports lazily (~0.2 s with
        # the GIL held); pay for it now, not in the first flush mid-stream.
        pa.array(["warm-up"], pa.string())

    def add(self, table: str, row: tuple[object, ...]) -> None:
        """Buffer one row (event-loop thread only)."""
        if table == _FRAMES:
            self._frames.add(row)
        else:
            self._rows[table].append(row)

    async def flush(self) -> None:
        """Write every buffered row; a failure is logged and loses only those rows."""
        rows = {t: r for t, r in self._rows.items() if r}
        frames = self._frames
        if not rows and not len(frames):
            return
        for table in rows:
            self._rows[table] = []
        self._frames = _FrameColumns()
        try:
            await asyncio.to_thread(self._write, rows, frames)
        except Exception:
            n = sum(len(r) for r in rows.values()) + len(frames)
            log.exception("could not write %d record rows", n)

    async def run(self, interval_s: float) -> None:
        """Flush every ``interval_s`` until cancelled (the caller flushes once more at exit)."""
        while True:
            await asyncio.sleep(interval_s)
            await self.flush()

    def _write(
        self, rows: dict[str, list[tuple[object, ...]]], frames: _FrameColumns
    ) -> None:
        # A flush cancelled on the loop goes on in its thread; the lock keeps a
        # later flush from touching the sink at the same time.
        with self._write_lock:
            if len(frames):
                self._sink.write_columns(_FRAMES, frames.columns())
            for table, batch in rows.items():
                for row in batch:
                    self._sink.add(table, row)
            self._sink.flush()
