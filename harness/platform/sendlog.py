"""The platform's send log (``sent_frames``), packed one record per chunk.

The send log is the ground truth receivers are measured against, one row per
media frame (harness/core/records.py). Built as a tuple per frame and packed
by :class:`harness.io.sink.ColumnBuffer` (two item getters, a key lookup and a
``struct`` pack per row, three Python calls deep), it was 8.5 % of the
platform's samples at 500 streams (docs/performance.md "The platform sender
against the bare one"), on the loop that also keeps the frames' time.

Every frame of one chunk of a conformant stream shares its chunk, due and sent
times and payload size; only the track and ``sequenceNumber`` differ, and those
follow one another. So the streamer writes one record per chunk straight into
this buffer (:meth:`SendLog.chunk`: one ``struct`` pack, no tuple per frame),
with the stream and its tracks as a small int key given once per flush window
(:meth:`SendLog.key`); the writer thread expands the records into the table's
rows with a few numpy operations (:meth:`SendLog.columns`). Rows come out in
the order they were sent and identical to the per-frame tuples
(``tests/harness/platform/test_sendlog.py`` checks both against
:meth:`harness.core.sender.Sender.media`). Frames that do not share a chunk
record (defects that bend the numbers, the emulated network's ``wire_ns``) come
through :meth:`SendLog.add` as rows, one record each.

A :class:`SendLog` is the hot buffer of the platform's
:class:`~harness.io.recorder.Recorder` (``buffer=SendLog``): the recorder swaps
it at every hand-off and counts it in its backlog bound like any other rows.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Sequence

import numpy as np
import pyarrow as pa

from harness.core.records import TABLES


__all__ = ["RECORD", "SendLog"]

log = logging.getLogger(__name__)

TABLE = "sent_frames"
RECORD = struct.Struct("=iiqqqqiq")
"""key, frames, chunk, first seq, due_ns, sent_ns, payload bytes, wire_ns: one
chunk's record, as :meth:`SendLog.chunk` packs it (the streamer's bucket pass,
:func:`harness.platform.lane.run_bucket`, packs it inline)."""
_DTYPE = np.dtype(
    [
        ("key", "=i4"),
        ("frames", "=i4"),
        ("chunk", "=i8"),
        ("seq", "=i8"),
        ("due_ns", "=i8"),
        ("sent_ns", "=i8"),
        ("payload_bytes", "=i4"),
        ("wire_ns", "=i8"),
    ]
)
_COLUMNS = tuple(name for name, _ in TABLES[TABLE])
assert _COLUMNS == (
    "stream_sid",
    "track",
    "chunk",
    "seq",
    "due_ns",
    "sent_ns",
    "payload_bytes",
    "wire_ns",
), "sent_frames changed: update SendLog"


class SendLog:
    """One flush window of ``sent_frames``, one packed record per chunk (loop thread).

    A :class:`harness.io.sink.HotBuffer`: :meth:`add` takes whole rows as any
    buffer does; :meth:`chunk` is the streamer's fast path.
    """

    __slots__ = ("_keys", "_sids", "_tracks", "records", "rows", "table")

    def __init__(self, table: str = TABLE) -> None:
        if table != TABLE:
            raise ValueError(f"a SendLog holds {TABLE}, not {table!r}")
        self.table = table
        self._keys: dict[tuple[str, tuple[str, ...]], int] = {}
        self._sids: list[str] = []
        self._tracks: list[str] = []
        """Per key: the stream and track a row of that key belongs to."""
        self.records = bytearray()
        """The packed records (:data:`RECORD`), in send order."""
        self.rows = 0
        """The rows the records stand for (``len``); whoever appends a record adds its frames."""

    def __len__(self) -> int:
        return self.rows

    def key(self, sid: str, tracks: tuple[str, ...]) -> int:
        """The key of ``sid``'s first track in this window; its others follow it.

        A stream asks once per window (the buffer is new after every hand-off).
        """
        pair = (sid, tracks)
        key = self._keys.get(pair)
        if key is None:
            key = self._keys[pair] = len(self._sids)
            self._sids += [sid] * len(tracks)
            self._tracks += tracks
        return key

    def chunk(
        self,
        key: int,
        frames: int,
        chunk: int,
        seq: int,
        due_ns: int,
        sent_ns: int,
        payload_bytes: int,
    ) -> None:
        """Log one chunk: ``frames`` frames, track ``i`` with key ``key + i`` and
        ``sequenceNumber`` ``seq + i``; ``wire_ns == sent_ns`` (no emulated network)."""
        self.records += RECORD.pack(
            key, frames, chunk, seq, due_ns, sent_ns, payload_bytes, sent_ns
        )
        self.rows += frames

    def add(self, row: tuple[object, ...]) -> None:
        """Log one row as it is; one whose number does not fit is dropped, alone."""
        sid, track, chunk, seq, due, sent, size, wire = row
        key = self.key(str(sid), (str(track),))
        try:
            self.records += RECORD.pack(key, 1, chunk, seq, due, sent, size, wire)
        except struct.error:
            log.warning("dropped a %s row with an out-of-range number", TABLE)
            return
        self.rows += 1

    def columns(self) -> Sequence[object]:
        """The rows as columns in ``TABLES`` order (on the writer thread)."""
        records = np.frombuffer(self.records, dtype=_DTYPE)
        frames = records["frames"].astype(np.int64)
        which = np.repeat(np.arange(len(records)), frames)
        # each row's place within its chunk: 0 for the first track, 1 for the next
        first = np.cumsum(frames) - frames
        within = np.arange(int(frames.sum())) - np.repeat(first, frames)
        key = records["key"][which] + within
        sids = pa.array(self._sids, pa.string()).take(key)
        tracks = pa.array(self._tracks, pa.string()).take(key)
        out: list[object] = [sids, tracks]
        for name in _COLUMNS[2:]:
            column = records[name][which]
            out.append(column + within if name == "seq" else column)
        return out
