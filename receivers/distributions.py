"""Per-codec, per-track distributions kept by the receiver in bounded memory.

Every frame the sessions record is counted in three histograms of its codec
and track (:mod:`harness.core.histogram`):

* ``interarrival_ns``: arrival minus the previous arrival on the same track;
* ``jitter_ns``: the RFC 3550 estimate after the frame (the row's own value),
  past the track's warm-up (:data:`harness.core.metrics.jitter.WARMUP_FRAMES`: a
  warm-up frame's row carries NaN and is not counted here);
* ``transit_first_ns``: ``(arrival - media.timestamp)`` minus the same for the
  track's first frame, i.e. how much later than its first frame a frame came
  on the media clock. Signed; it needs no send log, so it works against a
  real platform.

Counted a flush at a time, not a frame at a time: :meth:`Distributions.fold`
takes the ``frames`` rows of one flush as arrays (the recorder already holds
them packed, :class:`harness.io.sink.ColumnBuffer`) and counts them with a few
numpy passes on the record writer's thread. Counted per frame on the event
loop, the three histogram updates and the call that fed them were over a
quarter of the receiver loop's time at 400 streams (docs/performance.md §2),
in the very callbacks whose arrival stamps are measured. Frames are told
apart by (stream sid, track), as the records tell them; each track's last
arrival, first transit and highest chunk carry over from one flush to the
next and are dropped once its stream has ended. The histograms count the
frames the records hold: rows the recorder drops while its writer is behind
(``harness.io.recorder``) are counted there as lost, not here.

The histograms are process-wide, keyed by codec and track names a peer
chose: at most :data:`MAX_HISTOGRAMS` distinct keys are kept, and frames of
any further (codec, track) are counted under :data:`OVERFLOW` instead, so no
peer can grow the receiver's memory by inventing names (the session bounds
each stream's names and tracks: WS-LIMIT-001).

Each flush writes its counts as ``histograms`` rows, so a run's rows from
every receiver process sum to exact run-wide histograms; the writer thread
builds their columns (:func:`histogram_columns`).

The same counts also go live (:mod:`harness.core.live`): each fold's counts
are handed back to the loop (:meth:`Distributions.deliver`) and
:meth:`Distributions.live` puts what was delivered since the previous
``stats`` line into the next, with the frames the chunk numbers say were due
and the streams started per codec.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from typing import Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from harness.core.histogram import MAX_ABS_NS, buckets_of
from harness.core.live import LIVE_METRICS, receiver_doc
from harness.io.sink import ColumnBuffer


__all__ = [
    "MAX_HISTOGRAMS",
    "METRICS",
    "OVERFLOW",
    "Distributions",
    "Frames",
    "Snapshot",
    "Taken",
    "histogram_columns",
]

METRICS: Final = ("interarrival_ns", "jitter_ns", "transit_first_ns")
MAX_HISTOGRAMS: Final = 3 * 512
"""Distinct (metric, codec, track) histograms a receiver process keeps: every
metric of 512 codec-track pairs, far beyond the 5 codecs x 2 tracks of a run."""
OVERFLOW: Final = "(other)"
"""Codec and track name of the histograms that take the frames past the bound."""
_MS: Final = 1_000_000
_TIMESTAMP_LIMIT_MS: Final = (1 << 60) // _MS
"""A peer's ``media.timestamp`` is clipped to this many ms (36 years) so that
transit arithmetic stays within int64 and :data:`MAX_ABS_NS`."""
_SPAN: Final = 1 << 20
"""Room per histogram in the combined (histogram, bucket) key: buckets of
values within MAX_ABS_NS lie within +-2**16."""

Snapshot = list[tuple[str, str, str, dict[int, int]]]
"""``(metric, codec, track, bucket -> count)`` of every histogram with counts."""
Encoded = dict[tuple[str, str, str], list[list[int]]]
"""``(metric, codec, track) -> [bucket deltas, counts]`` (:func:`harness.core.live.encode_counts`)."""
Ints = npt.NDArray[np.int64]


@dataclasses.dataclass(frozen=True, slots=True)
class Frames:
    """One flush of ``frames`` rows as arrays: row i is track ``keys[key[i]]``."""

    keys: Sequence[tuple[str, ...]]
    """(stream sid, track) of each distinct track in the batch."""
    key: npt.NDArray[np.int32]
    chunk: Ints
    timestamp_ms: Ints
    arrival_ns: Ints
    jitter_ns: npt.NDArray[np.float64]

    @classmethod
    def of_buffer(cls, buffer: ColumnBuffer) -> Frames:
        """The rows a recorder holds for its hot ``frames`` table (no copy)."""
        packed, index, keys = buffer.packed()
        return cls(
            keys,
            index,
            packed["chunk"],
            packed["timestamp_ms"],
            packed["arrival_ns"],
            packed["jitter_ns"],
        )

    @classmethod
    def of_rows(cls, rows: Iterable[tuple[object, ...]]) -> Frames:
        """``frames`` rows as tuples (``MemorySink``'s), in ``TABLES`` order."""
        codes: dict[tuple[str, ...], int] = {}
        key, chunk, ts, arrival, jitter = [], [], [], [], []
        for sid, track, c, _, t, a, _, j in rows:
            key.append(codes.setdefault((str(sid), str(track)), len(codes)))
            chunk.append(c)
            ts.append(t)
            arrival.append(a)
            jitter.append(j)
        return cls(
            list(codes),
            np.array(key, np.int32),
            np.array(chunk, np.int64),
            np.array(ts, np.int64),
            np.array(arrival, np.int64),
            np.array(jitter, np.float64),
        )


@dataclasses.dataclass(frozen=True, slots=True)
class Taken:
    """What one fold counted, and the totals as of it (for the live lines)."""

    snapshot: Snapshot
    due: dict[tuple[str, str], int]
    """(codec, track) -> frames due by the highest chunk of each track, in all."""
    started: dict[str, int]
    """Codec -> streams whose first frame came, in all."""
    encoded: Encoded = dataclasses.field(default_factory=dict)
    """The :data:`~harness.core.live.LIVE_METRICS` histograms of :attr:`snapshot`
    as a ``live`` line carries them (:func:`~harness.core.live.encode_counts`),
    built on the folding thread so the loop need not (the usual line follows
    one fold)."""


class _Track:
    __slots__ = ("anchor", "due", "highest", "ids", "last")

    def __init__(self, anchor: int, ids: tuple[int, int, int], due: list[int]) -> None:
        self.last: int | None = None
        self.anchor = anchor
        self.highest = 0
        self.ids = ids
        self.due = due


class Distributions:
    """Histograms keyed by (metric, codec, track), counted a flush at a time.

    :meth:`fold` runs on one thread at a time (the record writer's);
    :meth:`deliver` and :meth:`live` on the event loop.
    """

    def __init__(self, producer: str) -> None:
        self.producer = producer
        self.overflowed = 0
        """Histograms asked for past :data:`MAX_HISTOGRAMS` (served by the overflow one)."""
        # -- the folding thread's
        self._ids: dict[tuple[str, str, str], int] = {}
        self._names: list[tuple[str, str, str]] = []
        self._tracks: dict[tuple[str, ...], _Track] = {}
        self._by_sid: dict[str, list[tuple[str, ...]]] = {}
        self._due: dict[tuple[str, str], list[int]] = {}
        self._started: dict[str, int] = {}
        # -- the loop's
        self._taken: list[tuple[Snapshot, Encoded]] = []
        """Live metrics' counts delivered since the last :meth:`live`, each
        fold's with their encoded form."""
        self._due_taken: dict[tuple[str, str], int] = {}
        self._due_sent: dict[tuple[str, str], int] = {}
        self._started_taken: dict[str, int] = {}
        self._started_sent: dict[str, int] = {}
        self._seq = 0

    # -- the folding thread ----------------------------------------------------

    def _id(self, metric: str, codec: str, track: str) -> int:
        key = (metric, codec, track)
        found = self._ids.get(key)
        if found is None:
            if len(self._ids) >= MAX_HISTOGRAMS:
                self.overflowed += 1
                key = (metric, OVERFLOW, OVERFLOW)
                found = self._ids.get(key)
                if found is not None:
                    return found
            found = self._ids[key] = len(self._names)
            self._names.append(key)
        return found

    def _track(self, key: tuple[str, ...], codec: str, anchor: int) -> _Track:
        sid, name = key[0], key[1]
        if sid not in self._by_sid:  # the stream's first frame
            if codec not in self._started and len(self._started) >= MAX_HISTOGRAMS:
                codec = OVERFLOW  # a peer inventing codec names
            self._started[codec] = self._started.get(codec, 0) + 1
        self._by_sid.setdefault(sid, []).append(key)
        ids = (
            self._id(METRICS[0], codec, name),
            self._id(METRICS[1], codec, name),
            self._id(METRICS[2], codec, name),
        )
        due = self._due.get((codec, name))
        if due is None:
            full = len(self._due) >= MAX_HISTOGRAMS
            due = self._due.setdefault(
                (OVERFLOW, OVERFLOW) if full else (codec, name), [0]
            )
        track = self._tracks[key] = _Track(anchor, ids, due)
        return track

    def fold(
        self,
        frames: Frames,
        codecs: Mapping[str, str],
        ended: Iterable[str] = (),
    ) -> Taken:
        """Count one flush of frames; forget the tracks of ``ended`` streams after.

        Args:
            frames: the flush's rows, in arrival order per track.
            codecs: stream sid -> codec (``""``: not started), for tracks new
                in this flush.
            ended: sids of the streams that ended before these rows were taken.

        Long because: the per-track carry-over (last arrival, first transit,
        highest chunk) is read and written around the vectorised passes, and
        each pass mirrors one line of the per-frame definition in the module
        docstring; split up, the arrays would travel through a dozen arguments.
        """
        snapshot: Snapshot = []
        encoded: Encoded = {}
        n = len(frames.key)
        if n:
            order = np.argsort(frames.key, kind="stable")
            code = frames.key[order]
            arrival = frames.arrival_ns[order]
            chunk = frames.chunk[order]
            timestamp = np.clip(
                frames.timestamp_ms[order], -_TIMESTAMP_LIMIT_MS, _TIMESTAMP_LIMIT_MS
            )
            jitter = frames.jitter_ns[order]
            starts = np.flatnonzero(np.concatenate(([True], code[1:] != code[:-1])))
            sizes = np.diff(np.append(starts, n))
            transit = arrival - timestamp * _MS
            tracks: list[_Track] = []
            first_transit = transit[starts].tolist()
            for g, c in enumerate(code[starts].tolist()):
                key = frames.keys[c]
                track = self._tracks.get(key)
                if track is None:
                    track = self._track(key, codecs.get(key[0], ""), first_transit[g])
                tracks.append(track)
            carried = np.array([t.last is not None for t in tracks], np.bool_)
            last = np.array([t.last or 0 for t in tracks], np.int64)
            anchor = np.array([t.anchor for t in tracks], np.int64)
            highest = np.array([t.highest for t in tracks], np.int64)
            ids = np.array([t.ids for t in tracks], np.int64).T
            # interarrival: to the previous frame of the track, this flush's or the last's
            inter = np.empty(n, np.int64)
            inter[1:] = arrival[1:] - arrival[:-1]
            inter[starts] = arrival[starts] - last
            has_inter = np.ones(n, np.bool_)
            has_inter[starts] = carried
            settled = np.isfinite(jitter)  # NaN: the estimator's warm-up
            row_ids = np.repeat(ids, sizes, axis=1)
            combined = np.concatenate(
                [
                    _combine(row_ids[0][has_inter], inter[has_inter]),
                    _combine(row_ids[1][settled], _ints(jitter[settled])),
                    _combine(row_ids[2], transit - np.repeat(anchor, sizes)),
                ]
            )
            snapshot, encoded = self._snapshot(combined)
            newest = np.maximum(highest, np.maximum.reduceat(chunk, starts))
            lasts = arrival[starts + sizes - 1].tolist()
            for track, end, high in zip(tracks, lasts, newest.tolist(), strict=True):
                track.last = end
                if high > track.highest:
                    track.due[0] += high - track.highest
                    track.highest = high
        for sid in ended:
            for key in self._by_sid.pop(sid, ()):
                self._tracks.pop(key, None)
        return Taken(
            snapshot,
            {key: cell[0] for key, cell in self._due.items()},
            dict(self._started),
            encoded,
        )

    def _snapshot(self, combined: Ints) -> tuple[Snapshot, Encoded]:
        """Counts per histogram from combined (histogram, bucket) keys; the
        live metrics' also as a ``live`` line carries them.

        ``np.unique`` leaves each histogram's buckets sorted and its counts
        positive, which is :func:`~harness.core.live.encode_counts`'s form: its
        bucket deltas are one ``np.diff`` away.
        """
        keys, counts = np.unique(combined, return_counts=True)
        if not len(keys):
            return [], {}
        hist = keys // _SPAN
        bucket_values = keys - hist * _SPAN - _SPAN // 2
        buckets = bucket_values.tolist()
        bounds = np.flatnonzero(np.diff(hist)) + 1
        out: Snapshot = []
        encoded: Encoded = {}
        at = 0
        for end in [*bounds.tolist(), len(keys)]:
            name = self._names[int(hist[at])]
            metric, codec, track = name
            n = counts[at:end].tolist()
            out.append(
                (metric, codec, track, dict(zip(buckets[at:end], n, strict=True)))
            )
            if metric in LIVE_METRICS:
                encoded[name] = [np.diff(bucket_values[at:end], prepend=0).tolist(), n]
            at = end
        return out, encoded

    # -- the loop --------------------------------------------------------------

    def deliver(self, taken: Taken) -> None:
        """Keep a fold's counts for the next :meth:`live` (on the loop)."""
        live = [item for item in taken.snapshot if item[0] in LIVE_METRICS]
        if live:
            self._taken.append((live, taken.encoded))
        self._due_taken = taken.due
        self._started_taken = taken.started

    def live(self, open_codecs: Iterable[str]) -> dict[str, object]:
        """The ``live`` object of a stats line (:func:`harness.core.live.receiver_doc`):
        the counts delivered since the previous one, the frames due and
        streams started since, and the streams open now per codec.

        Live figures lag the frames by a flush and its write (the final line,
        after the last flush, has them all). ``open_codecs`` holds the codec of
        each open stream (``""``: not started).
        """
        taken, self._taken = self._taken, []
        encoded: Encoded | None = None
        if len(taken) == 1:  # the usual case: one flush since the last line
            snapshot, encoded = taken[0]
            delta = {(m, c, t): counts for m, c, t, counts in snapshot}
        else:
            delta = {}
            for snapshot, _ in taken:
                for metric, codec, track, counts in snapshot:
                    out = delta.setdefault((metric, codec, track), {})
                    for bucket, count in counts.items():
                        out[bucket] = out.get(bucket, 0) + count
        due_now = self._due_taken
        due = {key: n - self._due_sent.get(key, 0) for key, n in due_now.items()}
        self._due_sent = due_now
        started_now = self._started_taken
        started = {c: n - self._started_sent.get(c, 0) for c, n in started_now.items()}
        self._started_sent = started_now
        open_now: dict[str, int] = {}
        for codec in open_codecs:
            if codec:
                open_now[codec] = open_now.get(codec, 0) + 1
        self._seq += 1
        return receiver_doc(self._seq, delta, due, started, open_now, encoded)


def _ints(values_ns: npt.NDArray[np.float64]) -> Ints:
    """Float ns to int64 as ``int()`` would (toward zero), within ``±MAX_ABS_NS``."""
    return np.clip(values_ns, -MAX_ABS_NS, MAX_ABS_NS).astype(np.int64)


def _combine(ids: Ints, values_ns: Ints) -> Ints:
    """One int64 per (histogram, bucket): ``id * _SPAN + bucket + _SPAN / 2``."""
    clipped = np.clip(values_ns, -MAX_ABS_NS, MAX_ABS_NS)
    return ids * _SPAN + buckets_of(clipped) + _SPAN // 2


def histogram_columns(producer: str, snapshot: Snapshot) -> list[object]:
    """The ``histograms`` columns of a fold's counts (:attr:`Taken.snapshot`),
    one row per (histogram, bucket), buckets in order; for the writer thread."""
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
