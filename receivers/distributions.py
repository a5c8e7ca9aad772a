"""Per-codec, per-track distributions kept by the receiver in bounded memory.

Every frame row a session emits passes through a :class:`FrameTap` on its way
to the sink; the tap adds the frame to three histograms of its codec and track
(:mod:`harness.core.histogram`):

* ``interarrival_ns``: arrival minus the previous arrival on the same track;
* ``jitter_ns``: the RFC 3550 estimate after the frame (the row's own value),
  past the track's warm-up (:data:`harness.core.metrics.jitter.WARMUP_FRAMES`: a
  warm-up frame's row carries NaN and is not counted here);
* ``transit_first_ns``: ``(arrival - media.timestamp)`` minus the same for the
  track's first frame, i.e. how much later than its first frame a frame came
  on the media clock. Signed; it needs no send log, so it works against a
  real platform.

The histograms are process-wide, keyed by codec and track names a peer
chose: at most :data:`MAX_HISTOGRAMS` distinct keys are kept, and frames of
any further (codec, track) are counted under :data:`OVERFLOW` instead, so no
peer can grow the receiver's memory by inventing names (the session bounds
each stream's names and tracks: WS-LIMIT-001).

Each flush writes the counts since the last one as ``histograms`` rows, so a
run's rows from every receiver process sum to exact run-wide histograms. The
flush only swaps the counts out (:meth:`Distributions.take`, a few dict moves
on the loop); the writer thread turns them into columns
(:func:`histogram_columns`): a few thousand buckets handed over as rows cost
the loop milliseconds each second, a stall that showed in the receiver's own
latency p99.

The same counts also go live (:mod:`harness.core.live`): each flush's snapshot
of the live metrics is kept by reference, and :meth:`Distributions.live`
puts what changed since the previous ``stats`` line into the next, with the
frames the chunk numbers say were due and the streams started per codec.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final, cast

import numpy as np
import pyarrow as pa

from harness.core.histogram import Histogram
from harness.core.live import LIVE_METRICS, receiver_doc
from harness.core.records import RowSink
from harness.core.session import StreamSession


__all__ = [
    "MAX_HISTOGRAMS",
    "METRICS",
    "OVERFLOW",
    "Distributions",
    "FrameTap",
    "Snapshot",
    "histogram_columns",
]

METRICS: Final = ("interarrival_ns", "jitter_ns", "transit_first_ns")
MAX_HISTOGRAMS: Final = 3 * 512
"""Distinct (metric, codec, track) histograms a receiver process keeps: every
metric of 512 codec-track pairs, far beyond the 5 codecs x 2 tracks of a run."""
OVERFLOW: Final = "(other)"
"""Codec and track name of the histograms that take the frames past the bound."""
_MS: Final = 1_000_000

Snapshot = list[tuple[str, str, str, dict[int, int]]]
"""``(metric, codec, track, bucket -> count)`` of every histogram with counts."""
_FrameRow = tuple[str, str, int, int, int, int, int, float]
"""A ``frames`` row: sid, track, chunk, seq, timestamp_ms, arrival_ns, bytes, jitter."""


class Distributions:
    """Histograms keyed by (metric, codec, track), drained into records at flush."""

    def __init__(self, producer: str) -> None:
        self.producer = producer
        self.histograms: dict[tuple[str, str, str], Histogram] = {}
        self.overflowed = 0
        """Histograms asked for past :data:`MAX_HISTOGRAMS` (served by the overflow one)."""
        self._taken: list[Snapshot] = []
        """Live metrics' counts taken since the last :meth:`live` (by reference)."""
        self._due_taken: dict[tuple[str, str], int] = {}
        self._due_sent: dict[tuple[str, str], int] = {}
        self._started_sent: dict[str, int] = {}
        self._seq = 0
        self.due: dict[tuple[str, str], list[int]] = {}
        """(codec, track) -> [frames due by the highest chunk of each track]."""
        self.started: dict[str, int] = {}
        """Codec -> streams whose first frame came."""

    def get(self, metric: str, codec: str, track: str) -> Histogram:
        key = (metric, codec, track)
        histogram = self.histograms.get(key)
        if histogram is None:
            if len(self.histograms) >= MAX_HISTOGRAMS:
                self.overflowed += 1
                key = (metric, OVERFLOW, OVERFLOW)
                histogram = self.histograms.get(key)
                if histogram is not None:
                    return histogram
            histogram = self.histograms[key] = Histogram()
        return histogram

    def take(self) -> Snapshot:
        """Every count since the last take, leaving the histograms empty (O(histograms))."""
        out: Snapshot = []
        for (metric, codec, track), histogram in self.histograms.items():
            if histogram.counts:
                out.append((metric, codec, track, histogram.counts))
                histogram.clear()
        live = [item for item in out if item[0] in LIVE_METRICS]
        if live:
            self._taken.append(live)
        # frames due as of these counts, so live loss compares like with like
        self._due_taken = {key: cell[0] for key, cell in self.due.items()}
        return out

    def due_cell(self, codec: str, track: str) -> list[int]:
        """The counter of frames due for (codec, track), bounded as histograms are."""
        key = (codec, track)
        cell = self.due.get(key)
        if cell is None:
            if len(self.due) >= MAX_HISTOGRAMS:
                key = (OVERFLOW, OVERFLOW)
            cell = self.due.setdefault(key, [0])
        return cell

    def live(self, open_codecs: Iterable[str]) -> dict[str, object]:
        """The ``live`` object of a stats line (:func:`harness.core.live.receiver_doc`):
        the counts the flushes took since the previous one, the frames due and
        streams started since, and the streams open now per codec.

        Only what the flushes took, not the counts still in the histograms: a
        line then costs the buckets touched in one flush interval, without
        copying or subtracting the current ones, and live figures lag the
        frames by at most that interval (the final line, after the last flush,
        has them all). ``open_codecs`` holds the codec of each open stream
        (``""``: not started).
        """
        taken, self._taken = self._taken, []
        if len(taken) == 1:  # the usual case: one flush since the last line
            delta = {(m, c, t): counts for m, c, t, counts in taken[0]}
        else:
            delta = {}
            for snapshot in taken:
                for metric, codec, track, counts in snapshot:
                    out = delta.setdefault((metric, codec, track), {})
                    for bucket, count in counts.items():
                        out[bucket] = out.get(bucket, 0) + count
        due_now = self._due_taken
        due = {key: n - self._due_sent.get(key, 0) for key, n in due_now.items()}
        self._due_sent = due_now
        started = {c: n - self._started_sent.get(c, 0) for c, n in self.started.items()}
        self._started_sent = dict(self.started)
        open_now: dict[str, int] = {}
        for codec in open_codecs:
            if codec:
                open_now[codec] = open_now.get(codec, 0) + 1
        self._seq += 1
        return receiver_doc(self._seq, delta, due, started, open_now)

    def drain(self, sink: RowSink) -> int:
        """Add every count since the last drain as rows; return how many rows.

        The row-at-a-time spelling of :meth:`take` + :func:`histogram_columns`.
        """
        n = 0
        producer = self.producer
        for metric, codec, track, counts in self.take():
            for bucket, count in sorted(counts.items()):
                sink.add("histograms", (producer, metric, codec, track, bucket, count))
                n += 1
        return n


def histogram_columns(producer: str, snapshot: Snapshot) -> list[object]:
    """The ``histograms`` columns of a :meth:`Distributions.take` (buckets in order).

    Vectorised, for the writer thread: the same rows as :meth:`Distributions.drain`.
    """
    sizes = [len(counts) for *_, counts in snapshot]
    total = sum(sizes)
    buckets = np.empty(total, np.int64)
    counts_out = np.empty(total, np.int64)
    at = 0
    for (*_, counts), n in zip(snapshot, sizes, strict=True):
        b = np.fromiter(counts.keys(), np.int64, n)
        c = np.fromiter(counts.values(), np.int64, n)
        order = np.argsort(b, kind="stable")
        buckets[at : at + n] = b[order]
        counts_out[at : at + n] = c[order]
        at += n
    which = np.repeat(np.arange(len(snapshot), dtype=np.int32), sizes)

    def strings(i: int) -> pa.Array:
        return pa.array([key[i] for key in snapshot], pa.string()).take(which)

    return [
        pa.array([producer], pa.string()).take(np.zeros(total, np.int32)),
        strings(0),
        strings(1),
        strings(2),
        buckets,
        counts_out,
    ]


class _Track:
    __slots__ = (
        "anchor",
        "due",
        "highest",
        "interarrival",
        "jitter",
        "last",
        "transit",
    )

    def __init__(
        self, dist: Distributions, codec: str, track: str, anchor: int
    ) -> None:
        self.last = 0
        self.highest = 0
        self.due = dist.due_cell(codec, track)
        self.anchor = anchor
        self.interarrival = dist.get(METRICS[0], codec, track)
        self.jitter = dist.get(METRICS[1], codec, track)
        self.transit = dist.get(METRICS[2], codec, track)


class FrameTap:
    """A :class:`RowSink` for one connection: measure frame rows, pass every row on.

    Args:
        sink: where the rows go.
        dist: the receiver's shared histograms.
        session: the connection's session (its codec is read at the first frame
            of each track: ``start`` has announced it by then).
    """

    __slots__ = ("_dist", "_session", "_sink", "_tracks")

    def __init__(
        self, sink: RowSink, dist: Distributions, session: StreamSession
    ) -> None:
        self._sink = sink
        self._dist = dist
        self._session = session
        self._tracks: dict[str, _Track] = {}

    def add(self, table: str, row: tuple[object, ...]) -> None:
        if table == "frames":
            self._frame(row)
        self._sink.add(table, row)

    def _frame(self, row: tuple[object, ...]) -> None:
        _, name, chunk, _, timestamp, arrival, _, jitter = cast("_FrameRow", row)
        transit = arrival - timestamp * _MS
        track = self._tracks.get(name)
        if track is None:
            codec = self._session.codec
            if not self._tracks:  # the stream's first frame
                started = self._dist.started
                if codec not in started and len(started) >= MAX_HISTOGRAMS:
                    codec = OVERFLOW  # a peer inventing codec names
                started[codec] = started.get(codec, 0) + 1
            track = self._tracks[name] = _Track(self._dist, codec, name, transit)
        else:
            track.interarrival.record(arrival - track.last)
        track.last = arrival
        if chunk > track.highest:
            track.due[0] += chunk - track.highest
            track.highest = chunk
        if jitter == jitter:  # NaN (the warm-up) is unequal to itself
            track.jitter.record(int(jitter))
        track.transit.record(transit - track.anchor)
