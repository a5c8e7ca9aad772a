"""Per-frame arithmetic: received frames against the send log, as integer codes.

Frames carry no codec, so each frame takes its stream's codec through the stream
sid. A frame's identity ``(stream, track, chunk)`` is packed into one int64, so
the join with the send log is a sorted search rather than a string merge, and a
60M-frame run costs a few sorts instead of a Python loop per row. Everything is
reduced here to counts and distributions per group, where a group is one
``(codec, track)`` with code ``codec * n_tracks + track``.

Every computation is per stream and track, so the tables are processed a piece
of tracks at a time (:mod:`reports.partition`): counts add up across pieces,
first and last arrivals take the min and max, and each distribution's values
collect in :class:`reports.samples.Samples`, which summarise exactly past any
memory budget. Peak memory is a few int64 columns of one piece, whatever the
run's length; a run small enough for one piece is computed as one table.
"""

from __future__ import annotations

import copy
import math
from typing import Any, Final, NamedTuple

import numpy as np
import numpy.typing as npt
import pandas as pd

from harness.core.clocks import producer_of_part
from harness.core.codecs import FRAME_NS
from harness.core.errors import HarnessError
from reports.load import Run
from reports.partition import Limits, Piece, Pieces
from reports.samples import SamplePool, Samples, quantiles_of, summarise
from reports.series import BUCKETS, MAX_POINTS, bucket_of, histogram_quantiles
from reports.stats import NS_PER_MS, distribution, ratio


__all__ = [
    "FRAME_NS",
    "UNKNOWN",
    "FrameFacts",
    "Gaps",
    "View",
    "chunk_gaps",
    "reordered",
]

UNKNOWN: Final = "unknown"
"""Codec or track name when no record says which."""

_CDF_POINTS: Final = tuple(
    sorted(
        {
            *(1 - 10 ** -np.linspace(0.0, 5.0, 101)).round(7).tolist(),
            0.5,
            0.9,
            0.99,
            0.999,
            0.9999,
            0.99999,
        }
    )
)
"""Percentiles of the latency plot, evenly spread in "nines" (``1/(1-p)`` on a
log axis, HdrHistogram style) from p0 to p99.999."""
_DISTRIBUTIONS: Final = (
    "latency_ms",
    "lateness_ms",
    "transit_relative_ms",
    "jitter_ms",
    "interarrival_ms",
)

_PER_GROUP: Final = {
    **dict.fromkeys(
        ("frames", "valid", "unique", "bytes", "gap_missing", "gap_expected", "sent",
         "sent_unique", "matched_unique", "bursts", "streams", "reordered"), "sum"
    ),
    "longest_burst": "max", "last": "max", "sent_last": "max",
    "first": "min", "sent_first": "min",
}  # fmt: skip
"""Per-group totals and how a view (:meth:`FrameFacts._view`) merges them."""

View = tuple[list[str], list[list[int]], int | None, set[str] | None]
"""A view's codec names, source codecs per codec, level and streams."""

I64 = npt.NDArray[np.int64]
Codes = npt.NDArray[np.integer[Any]]
Json = dict[str, Any]


class _SendLog(NamedTuple):
    """One piece's send log: its distinct frame keys, sorted, with the first
    send time and the group of each."""

    keys: I64
    sent_ns: I64
    group: Codes


class Gaps(NamedTuple):
    """Loss by chunk gaps, per track and per frame (see :func:`chunk_gaps`)."""

    starts: npt.NDArray[np.intp]
    """Index of each track's first key."""
    highest: I64
    """Each track's highest chunk: the chunks it should have delivered."""
    missing: I64
    """Each track's chunks from 1 to its highest that never arrived."""
    before: I64
    """Per key: the chunks missing right before it (a burst when > 0)."""


def chunk_gaps(keys: I64, span: int) -> Gaps:
    """Loss without a send log: the gaps in each track's chunk counter.

    ``keys`` are the distinct frame keys ``track x span + chunk`` (chunks from
    1, contract §5.2), sorted. A track should have delivered every chunk from 1
    to the highest it delivered; the ones in between that never came are lost,
    and each run of them (including one before the first chunk) is a burst.
    Chunks after a track's last delivered one cannot be seen this way: that is
    what the send log is for.
    """
    track = keys // span
    chunk = keys % span
    first = np.r_[True, track[1:] != track[:-1]] if len(keys) else np.zeros(0, bool)
    starts = np.flatnonzero(first)
    ends = np.r_[starts[1:], len(keys)].astype(np.intp)
    highest = chunk[ends - 1] if len(keys) else chunk[:0]
    before = np.where(first, chunk - 1, np.diff(chunk, prepend=0) - 1)
    return Gaps(starts, highest, highest - (ends - starts), before)


def reordered(track_run: I64, chunk: I64, span: int) -> npt.NDArray[np.bool_]:
    """Which frames arrived reordered: below a chunk their track delivered earlier.

    ``track_run`` numbers each track's rows (in arrival order, one track's
    rows together, numbers not decreasing) and ``chunk`` is each row's chunk.
    A frame is late when a frame of its track with a higher chunk arrived
    before it, duplicates of such chunks included: the count says how often
    a receiver had to put frames back in order, not how many chunks.
    """
    packed = track_run * span + chunk
    highest = np.maximum.accumulate(packed) if len(packed) else packed
    late = np.zeros(len(packed), bool)
    late[1:] = (track_run[1:] == track_run[:-1]) & (packed[1:] < highest[:-1])
    return late


def _unique_first(values: I64) -> tuple[I64, npt.NDArray[np.intp]]:
    """Sorted distinct values and the index of each one's first occurrence."""
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    if not len(ordered):
        return ordered, order
    first = np.r_[True, ordered[1:] != ordered[:-1]]
    return ordered[first], order[first]


class FrameFacts:
    """Received frames and the send log, reduced per (codec, track) group.

    Args:
        run: the loaded records.
        sid_codec: stream sid -> codec name.
        codecs: codec names; :data:`UNKNOWN` must be among them, for frames
            of streams no record names.
        limits: how much may sit in memory (default: :meth:`Limits.from_env`).
    """

    def __init__(
        self,
        run: Run,
        sid_codec: pd.Series[str],
        codecs: list[str],
        limits: Limits | None = None,
        levels: list[int] | None = None,
        views: list[View] | None = None,
    ) -> None:
        limits = limits or Limits.from_env()
        self.codecs = codecs
        self._codec_level = np.asarray(
            levels if levels is not None else [0] * len(codecs), np.int64
        )
        """Codec -> level (a capacity level's window; -1: none); see :meth:`level`."""
        self._by_level = levels is not None
        self.timeline_codecs = views[0][0] if views else codecs
        """The codecs of the latency timeline: the whole run's."""
        self._timeline_codec = np.arange(len(codecs), dtype=np.int64)
        """Codec -> its timeline codec (-1: none); with views, the first view's."""
        if views:
            self._timeline_codec[:] = -1
            for c, sources in enumerate(views[0][1]):
                self._timeline_codec[sources] = c
        self.clock = run.clock
        """How times of different hosts compare (:mod:`harness.core.clocks`)."""
        writers = {
            producer_of_part(path.name) or path.name
            for path in (*run.frames.paths, *run.sent_frames.paths)
        }
        self.latency_comparable = run.clock.comparable(writers)
        """False: a producer of frames or the send log on another host has no clock
        anchor, so no latency is computed (``basis.latency`` says why)."""
        self.dists: dict[str, list[Json]] = {}
        """Metric -> distribution per group."""
        self.codec_dists: dict[str, list[Json]] = {}
        """Metric -> distribution per codec."""
        self.cdf: dict[str, tuple[list[float], list[float]]] = {}
        """Codec -> latency (ms) at each of its percentiles, and the percentiles."""
        self.track_cdf: dict[str, dict[str, tuple[list[float], list[float]]]] = {}
        """Codec -> track -> the same, for codecs with frames on several tracks."""
        platform = run.platform_streams
        rows = platform[platform["first_due_ns"] > 0].drop_duplicates("stream_sid")
        self.has_schedule = bool(len(rows))
        self._due = pd.Series(
            rows["first_due_ns"].to_numpy(np.int64),
            index=pd.Index(rows["stream_sid"].astype(str), dtype=object),
        )
        self._sid_codec = sid_codec
        # Per track code (one stream's track), grown as the pass meets them.
        self._track_codec = np.zeros(0, np.int64)
        self._track_due = np.zeros(0, np.int64)
        self._track_name = np.zeros(0, np.int64)
        self._track_frames = np.zeros(0, np.int64)
        self._track_bytes = np.zeros(0, np.float64)
        self._track_warmup = np.zeros(0, np.int64)
        self._first_arrival: int | None = None
        self._last_arrival: int | None = None
        # The samples live in a pool that spills past the memory budget; they
        # die with it, so every distribution is summarised before it closes.
        with SamplePool(limits.sample_bytes) as pool:
            self._pool = pool
            self._samples: dict[tuple[str, int, int], Samples] = {}
            """(metric, codec, track name code) -> values."""
            self._pacing = pool.samples(np.int64)
            self._level_pacing: dict[int, Samples] = {}
            with Pieces(run.frames, run.sent_frames, limits.piece_rows) as pieces:
                self._pieces = pieces
                self._count_pieces(pieces)
            self._summarise_samples(views)
        self._forget_samples()

    def _count_pieces(self, pieces: Pieces) -> None:
        """Step 1: the pass over the records (:meth:`_visit` per batch), then
        the groups (:meth:`_setup`), then every piece of tracks (:meth:`_piece`)."""
        pieces.read(self._visit)
        self._setup()
        for number in range(pieces.count):
            self._piece(pieces.piece(number))

    def _summarise_samples(self, views: list[View] | None) -> None:
        """Step 2: the distributions, of the groups or of each of ``views``."""
        for sample in [*self._samples.values(), *self._level_pacing.values()]:
            sample.settle()  # sorted once for the several summaries of each
        self.pacing = summarise([self._pacing])
        """Distribution of the sender's own lateness per frame (sent - due)."""
        self.views = [self._view(*view) for view in views or []]
        """The facts of each of ``views`` (see :meth:`_view`)."""
        if views is None:
            self._summarise()

    def _forget_samples(self) -> None:
        """Step 3: drop what only the pass needed, so the facts hold no file,
        sample or piece once built (and a copy made for a view shares none)."""
        for name in ("_pieces", "_samples", "_pool", "_pacing", "_level_pacing"):
            self.__dict__.pop(name, None)

    def _visit(self, table: str, columns: dict[str, npt.NDArray[Any]]) -> None:
        """Work on one batch of the pass that needs no other row: pacing, jitter,
        lateness, bytes."""
        self._grow()
        track = columns["track"]
        if table == "sent":
            due = columns["due_ns"]
            has_due = due > 0
            pacing = (columns["sent_ns"] - due)[has_due]
            self._pacing.add(pacing, copy=not self._by_level)
            if not self._by_level:
                return
            level = self._codec_level[self._track_codec[track[has_due]]]
            for lv in np.unique(level).tolist():
                if lv >= 0:
                    if lv not in self._level_pacing:
                        self._level_pacing[lv] = self._pool.samples(np.int64)
                    self._level_pacing[lv].add(pacing[level == lv], copy=False)
            return
        arrival, chunk = columns["arrival_ns"], columns["chunk"]
        n = len(self._track_codec)
        self._track_frames += np.bincount(track, minlength=n)
        payload = columns["payload_bytes"].astype(np.float64)
        self._track_bytes += np.bincount(track, weights=payload, minlength=n)
        low, high = int(arrival.min()), int(arrival.max())
        if self._first_arrival is None or low < self._first_arrival:
            self._first_arrival = low
        if self._last_arrival is None or high > self._last_arrival:
            self._last_arrival = high
        names = len(self._pieces.track_names)
        key = self._track_codec[track] * names + self._track_name[track]
        # A NaN estimate is a frame of its track's warm-up (harness.core.metrics.jitter):
        # counted, and left out of the percentiles.
        jitter = columns["jitter_ns"]
        warmup = np.isnan(jitter)
        if warmup.any():
            self._track_warmup += np.bincount(track[warmup], minlength=n)
            settled = ~warmup
            self._add("jitter_ms", jitter[settled], key[settled], names, owned=True)
        else:
            self._add("jitter_ms", jitter, key, names)
        # Arrival against the schedule: first media due + (chunk - 1) x 20 ms.
        # The schedule is the platform's (``platform_streams.first_due_ns``), so
        # a late sender shows here and not in transit (docs/architecture.md "Measure
        # against the schedule"); streams without one are left out.
        per_frame = self._track_due[track]
        ok = (per_frame > 0) & (chunk >= 1)
        if ok.all():
            late = arrival - per_frame - (chunk - 1) * FRAME_NS
            self._add("lateness_ms", late, key, names, owned=True)
        else:
            late = arrival[ok] - per_frame[ok] - (chunk[ok] - 1) * FRAME_NS
            self._add("lateness_ms", late, key[ok], names, owned=True)

    def _grow(self) -> None:
        """Per-track facts for the tracks the pass met since the last batch."""
        pieces = self._pieces
        old, new = len(self._track_codec), len(pieces.tracks)
        if new == old:
            return
        sid_names = pd.Index(list(pieces.sids), dtype=object)
        sids = sid_names[pieces.track_sid()[old:]]
        codec = self._sid_codec.reindex(sids).fillna(UNKNOWN).astype(str)
        codes = pd.Index(self.codecs).get_indexer(pd.Index(codec)).astype(np.int64)
        due = self._due.reindex(sids).fillna(0).to_numpy(np.int64)
        self._track_codec = np.r_[self._track_codec, codes]
        self._track_due = np.r_[self._track_due, due]
        self._track_name = pieces.track_name()
        self._track_frames = np.r_[self._track_frames, np.zeros(new - old, np.int64)]
        self._track_bytes = np.r_[self._track_bytes, np.zeros(new - old)]
        self._track_warmup = np.r_[self._track_warmup, np.zeros(new - old, np.int64)]

    def _setup(self) -> None:
        """Groups and empty totals, once the pass has met every track."""
        pieces, codecs = self._pieces, self.codecs
        self._grow()
        self.has_log = pieces.rows["sent"] > 0
        self.n_tracks = len(pieces.tracks)
        names = list(pieces.track_names)
        track_list = sorted({"", *names})
        self.track_names = [t or UNKNOWN for t in track_list]
        self.n_names = n_names = len(track_list)
        """Track name slots per codec: group ``g`` is codec ``g // n_names``."""
        self.n_groups = n = len(codecs) * n_names
        position = pd.Index(track_list, dtype=object).get_indexer(
            pd.Index(names, dtype=object)
        )
        self._group_of = self._track_codec * n_names + position[self._track_name]
        """Track code -> group."""
        name_at = np.full(n_names, -1, np.int64)
        name_at[position] = np.arange(len(names))
        self._group_key = [(g // n_names, int(name_at[g % n_names])) for g in range(n)]
        """Group -> (codec, track name code), the key of its samples."""

        def zeros() -> I64:
            return np.zeros(n, np.int64)

        self.frames, self.valid, self.unique = zeros(), zeros(), zeros()
        self.bytes = np.bincount(self._group_of, self._track_bytes, minlength=n)
        self.jitter_warmup = np.bincount(
            self._group_of, self._track_warmup, minlength=n
        ).astype(np.int64)
        """Frames per group whose jitter estimate was in its track's warm-up."""
        self.gap_missing, self.gap_expected = zeros(), zeros()
        self._gap_bursts = (zeros(), zeros())
        self.sent, self.sent_unique, self.matched_unique = zeros(), zeros(), zeros()
        self.bursts = zeros()
        """Runs of consecutive lost chunks per group."""
        self.longest_burst = zeros()
        """Longest such run per group (0: no loss)."""
        self.streams, self.reordered = zeros(), zeros()
        self.first = np.full(n, np.iinfo(np.int64).max)
        self.last = np.full(n, np.iinfo(np.int64).min)
        self.sent_first = np.full(n, np.iinfo(np.int64).max)
        self.sent_last = np.full(n, np.iinfo(np.int64).min)
        """Least and greatest positive send time per group (only with ``levels``)."""
        sid_names = np.asarray(list(pieces.sids), dtype=object)
        used = pieces.track_sid()[self._track_frames > 0]
        self.sids_with_frames = sorted(s for s in set(sid_names[used]) if s)
        """Stream sids that delivered at least one frame, sorted."""

        # Transit latency over time: counts per (timeline codec, time bin, log
        # bucket), on bins from the run's first frame.
        t0, end = self._first_arrival or 0, self._last_arrival or 0
        seen = pieces.rows["frames"] > 0
        duration_s = (end - t0) / 1e9 if seen else 0.0
        self._t0 = t0
        self.first_arrival_ns = t0 if seen else None
        """The first frame's arrival: where the time bins start."""
        self.time_bin_s = float(max(1, math.ceil(duration_s / MAX_POINTS)))
        self._time_bin_ns = int(self.time_bin_s * 1e9)
        self._time_bins = (end - t0) // self._time_bin_ns + 1 if seen else 0
        self.latency_counts = np.zeros(
            len(self.timeline_codecs) * self._time_bins * BUCKETS, np.int64
        )

    def _piece(self, piece: Piece) -> None:
        """Add the frames and send log of one piece of tracks to the totals."""
        n = self.n_groups
        frames, sent = piece.frames, piece.sent
        track, chunk, arrival = frames["track"], frames["chunk"], frames["arrival_ns"]
        self.span = span = (
            int(max(chunk.max(initial=0), sent["chunk"].max(initial=0))) + 1
        )
        if self.n_tracks * span >= 2**62:
            raise HarnessError(
                f"frame keys overflow: {self.n_tracks} tracks x {span} chunks; "
                "report on fewer streams at a time"
            )
        log = self._read_log(sent)
        group = self._narrow(self._group_of[track])
        self.frames += np.bincount(group, minlength=n)

        # One sort by (track, chunk) serves duplicates, loss, the join with the
        # send log (sorted needles make the binary search cheap) and, unless a
        # track arrived out of order, the walk in arrival order too. Chunks
        # start at 1 (contract §5.2); a frame with chunk < 1 counts as received
        # but takes no part in loss or transit.
        order = np.argsort(track * span + np.maximum(chunk, 0), kind="stable")
        key = track[order] * span + np.maximum(chunk[order], 0)
        valid = chunk[order] >= 1
        g_sorted = group[order]
        first_of_key = np.r_[True, key[1:] != key[:-1]] if len(key) else valid
        unique = first_of_key & valid
        self.valid += np.bincount(g_sorted[valid], minlength=n)
        self.unique += np.bincount(g_sorted[unique], minlength=n)
        self._gaps(key[unique], g_sorted[unique])
        del unique

        # The send log: rows, unique keys, and the transit of frames that match.
        arr_sorted = arrival[order]
        pos, hit = self._match(log, key, valid, first_of_key, g_sorted)
        if self.has_log:
            missed = np.ones(len(log.keys), bool)
            missed[pos[hit]] = False
            self._bursts(log.keys[missed], log.group[missed])
        if not self.latency_comparable:
            hit = np.zeros(len(hit), bool)  # matched for loss above, never timed
        latency = arr_sorted[hit] - log.sent_ns[pos[hit]]
        # first: the samples take ``latency`` over (a spill may rewrite it in place)
        self._latency_over_time(arr_sorted[hit], latency, g_sorted[hit])
        self._reduce("latency_ms", latency, g_sorted[hit])
        del latency
        del key, valid, first_of_key, pos, hit, log  # free before the next sort

        # Arrival order per track: interarrival, reordering, relative transit.
        tk_sorted = track[order]
        same = np.zeros(len(order), bool)
        same[1:] = tk_sorted[1:] == tk_sorted[:-1]
        del tk_sorted
        ch_sorted = np.maximum(chunk[order], 0)
        if np.any(same[1:] & (arr_sorted[1:] < arr_sorted[:-1])):
            order = np.lexsort((arrival, track))
            tk_sorted, arr_sorted = track[order], arrival[order]
            g_sorted, ch_sorted = group[order], np.maximum(chunk[order], 0)
            same[1:] = tk_sorted[1:] == tk_sorted[:-1]
            del tk_sorted
        del order, track
        self._walk(same, arr_sorted, ch_sorted, g_sorted)
        del same, arr_sorted, ch_sorted, g_sorted

    def _latency_over_time(self, arrival: I64, latency: I64, group: Codes) -> None:
        """Count each matched frame's transit in its codec's time bin and bucket."""
        if not len(latency) or not self._time_bins:
            return
        codec = self._timeline_codec[group // self.n_names]
        bins = (arrival - self._t0) // self._time_bin_ns
        flat = (codec * self._time_bins + bins) * BUCKETS + bucket_of(latency)
        self.latency_counts += np.bincount(
            flat[codec >= 0], minlength=self.latency_counts.size
        )

    def latency_over_time(
        self,
    ) -> dict[str, tuple[list[float], list[float], list[float]]]:
        """Codec -> (bin start in s from the first frame, p50 ms, p99 ms), the bins
        with a matched frame only; empty for a capacity level's view."""
        if not self.latency_counts.size:
            return {}
        n_codecs = len(self.timeline_codecs)
        counts = self.latency_counts.reshape(n_codecs, self._time_bins, BUCKETS)
        out: dict[str, tuple[list[float], list[float], list[float]]] = {}
        for c, codec in enumerate(self.timeline_codecs):
            present = np.flatnonzero(counts[c].sum(axis=1))
            if not len(present):
                continue
            qs = histogram_quantiles(counts[c][present], (0.5, 0.99)) / NS_PER_MS
            out[codec] = (
                (present * self.time_bin_s).tolist(),
                qs[:, 0].round(3).tolist(),
                qs[:, 1].round(3).tolist(),
            )
        return out

    def _narrow(self, codes: I64) -> Codes:
        """Group codes in the smallest integer type that holds them."""
        return codes.astype(np.int16 if self.n_groups < 2**15 else np.int64)

    def _gaps(self, keys: I64, groups: Codes) -> None:
        """Per group: chunks missing below each track's highest, and the highests.

        ``keys`` are the sorted distinct valid frame keys, ``groups`` theirs.
        Without a send log, also the loss bursts: each gap between received
        chunks of a track (and before its first) is one burst.
        """
        n = self.n_groups
        if not len(keys):
            return
        gaps = chunk_gaps(keys, self.span)
        group = groups[gaps.starts]
        missing = np.bincount(group, weights=gaps.missing, minlength=n)
        expected = np.bincount(group, weights=gaps.highest, minlength=n)
        gap = gaps.before
        lost = gap > 0
        count, longest = self._gap_bursts
        count += np.bincount(groups[lost], minlength=n)
        np.maximum.at(longest, groups[lost], gap[lost])
        self.gap_missing += missing.astype(np.int64)
        self.gap_expected += expected.astype(np.int64)

    def _bursts(self, missing: I64, groups: Codes) -> None:
        """Loss bursts from the send log's sorted keys that never arrived."""
        if not len(missing):
            return
        starts = np.flatnonzero(np.r_[True, np.diff(missing) != 1])
        lengths = np.diff(np.r_[starts, len(missing)])
        run_group = groups[starts]
        self.bursts += np.bincount(run_group, minlength=self.n_groups)
        np.maximum.at(self.longest_burst, run_group, lengths)

    def _read_log(self, sent: dict[str, npt.NDArray[Any]]) -> _SendLog:
        """Count a piece's send log per group; return its sorted distinct keys."""
        n = self.n_groups
        s_track, s_chunk = sent["track"], sent["chunk"]
        s_group = self._group_of[s_track]
        self.sent += np.bincount(s_group, minlength=n)
        ok = s_chunk >= 1
        keys, first_row = _unique_first((s_track * self.span + s_chunk)[ok])
        log = _SendLog(keys, sent["sent_ns"][ok][first_row], s_group[ok][first_row])
        self.sent_unique += np.bincount(log.group, minlength=n)
        if self._by_level:
            sent_ns = sent["sent_ns"]
            positive = sent_ns > 0
            np.minimum.at(self.sent_first, s_group[positive], sent_ns[positive])
            np.maximum.at(self.sent_last, s_group[positive], sent_ns[positive])
        return log

    def _match(
        self,
        log: _SendLog,
        key: I64,
        valid: npt.NDArray[np.bool_],
        first_of_key: npt.NDArray[np.bool_],
        group: Codes,
    ) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.bool_]]:
        """Find each (sorted) frame's entry in the send log.

        Returns the log position of each frame and whether it matched there.
        """
        log_keys = log.keys
        if not len(log_keys):
            return np.zeros(len(key), np.intp), np.zeros(len(key), bool)
        pos = np.minimum(np.searchsorted(log_keys, key), len(log_keys) - 1)
        hit = valid & (log_keys[pos] == key)
        self.matched_unique += np.bincount(
            group[hit & first_of_key], minlength=self.n_groups
        )
        return pos, hit

    def _walk(
        self,
        same: npt.NDArray[np.bool_],
        arrival: I64,
        chunk: I64,
        group: Codes,
    ) -> None:
        """Walk tracks in arrival order: spans, gaps, reordering, relative transit.

        ``same[i]`` says row ``i`` is on the same track as row ``i - 1``.
        """
        n, span = self.n_groups, self.span
        starts = np.flatnonzero(~same)
        ends = np.r_[starts[1:] - 1, len(same) - 1] if len(starts) else starts
        run_group = group[starts]
        self.streams += np.bincount(run_group, minlength=n)
        np.minimum.at(self.first, run_group, arrival[starts])
        np.maximum.at(self.last, run_group, arrival[ends])
        self._reduce("interarrival_ms", np.diff(arrival)[same[1:]], group[1:][same[1:]])
        track_run = np.cumsum(~same) - 1
        late = reordered(track_run, chunk, span)
        self.reordered += np.bincount(group[late], minlength=n)
        del late
        schedule = arrival - chunk * FRAME_NS
        if len(schedule):
            schedule -= np.minimum.reduceat(schedule, starts)[track_run]
        self._reduce("transit_relative_ms", schedule, group)

    def _reduce(self, name: str, values: npt.NDArray[Any], group: Codes) -> None:
        """Add ``values`` (a temporary, kept) to their groups' samples, one codec's
        share at a time."""
        n_names = self.n_names
        counts = np.bincount(group, minlength=self.n_groups)
        for c in np.flatnonzero(counts.reshape(-1, n_names).sum(axis=1)).tolist():
            lo, hi = c * n_names, (c + 1) * n_names
            if counts[lo:hi].sum() == len(values):
                mine, mine_group = values, group
            else:
                chosen = (group >= lo) & (group < hi)
                mine, mine_group = values[chosen], group[chosen]
            present = [g for g in range(lo, hi) if counts[g]]
            for g in present:
                one = len(present) == 1
                codec, track = self._group_key[g]
                self._sample(name, codec, track, values.dtype).add(
                    mine if one else mine[mine_group == g], copy=False
                )

    def _add(
        self,
        name: str,
        values: npt.NDArray[Any],
        key: I64,
        width: int,
        *,
        owned: bool = False,
    ) -> None:
        """Add ``values`` to their samples; ``key`` is ``codec x width + track name``.

        ``owned``: ``values`` is a temporary the samples may keep.
        """
        present = np.flatnonzero(np.bincount(key)).tolist()
        for k in present:
            sample = self._sample(name, k // width, k % width, values.dtype)
            if len(present) == 1:
                sample.add(values, copy=not owned)
            else:
                sample.add(values[key == k], copy=False)

    def _sample(
        self, name: str, codec: int, track: int, dtype: np.dtype[Any]
    ) -> Samples:
        key = (name, codec, track)
        if key not in self._samples:
            kind = np.float64 if dtype.kind == "f" else np.int64
            self._samples[key] = self._pool.samples(kind)
        return self._samples[key]

    def _summarise(self) -> None:
        """Each metric's distribution per group and per codec, and the latency CDF."""
        n_names, empty = self.n_names, distribution(np.zeros(0, np.int64))
        for name in _DISTRIBUTIONS:
            samples = {
                g: self._samples[(name, *key)]
                for g, key in enumerate(self._group_key)
                if (name, *key) in self._samples and self._samples[(name, *key)].count
            }
            dists = [empty] * self.n_groups
            codec_dists = []
            for c, codec in enumerate(self.codecs):
                present = [
                    g for g in range(c * n_names, (c + 1) * n_names) if g in samples
                ]
                for g in present:
                    dists[g] = summarise([samples[g]])
                if len(present) == 1:
                    codec_dists.append(dists[present[0]])
                else:
                    codec_dists.append(summarise([samples[g] for g in present]))
                if name == "latency_ms" and present:
                    self.cdf[codec] = _percentile_line([samples[g] for g in present])
                    if len(present) > 1:
                        self.track_cdf[codec] = {
                            self.track_names[g % n_names]: _percentile_line(
                                [samples[g]]
                            )
                            for g in present
                        }
            self.dists[name] = dists
            self.codec_dists[name] = codec_dists

    def _view(
        self,
        codecs: list[str],
        sources: list[list[int]],
        level: int | None,
        sids: set[str] | None,
    ) -> FrameFacts:
        """Facts with codecs of their own, each the union of some of :attr:`codecs`.

        With ``levels``, each stream's codec names its capacity level, its
        codec in the level's window and its codec in the whole run, so one
        pass over the frames serves the whole run and every level: a view's
        group adds up its source groups' counts and merges their samples,
        exactly as if its streams had been computed alone. ``level``: the
        level whose pacing the view takes (``None``: the whole run; a level's
        view has no plot series: no latency CDF); ``sids``: the level's
        streams (``None``: every stream).
        """
        n_names = self.n_names
        src = [
            [k * n_names + t for k in sources[c]]
            for c in range(len(codecs))
            for t in range(n_names)
        ]
        view = copy.copy(self)
        view.codecs = codecs
        view.n_groups = n = len(src)

        def merged(values: npt.NDArray[Any], how: str) -> npt.NDArray[Any]:
            out = np.zeros(n, values.dtype)
            for g, groups in enumerate(src):
                part = values[groups]
                if how == "min":
                    out[g] = part.min(initial=np.iinfo(np.int64).max)
                elif how == "max":
                    out[g] = part.max(initial=np.iinfo(np.int64).min)
                else:
                    out[g] = part.sum()
            return out

        for name, how in _PER_GROUP.items():
            setattr(view, name, merged(getattr(self, name), how))
        view._gap_bursts = (
            merged(self._gap_bursts[0], "sum"),
            np.maximum(merged(self._gap_bursts[1], "max"), 0),
        )
        view.longest_burst = np.maximum(view.longest_burst, 0)
        view.has_log = bool(view.sent.sum())
        if level is not None:  # the timeline is the whole run's
            view.latency_counts = np.zeros(0, np.int64)
        view.pacing = summarise(
            [
                self._pacing
                if level is None
                else self._level_pacing.get(level) or self._pool.samples(np.int64)
            ]
        )
        view.sids_with_frames = (
            self.sids_with_frames
            if sids is None
            else [s for s in self.sids_with_frames if s in sids]
        )
        self._view_distributions(view, src, level)
        for own in ("_samples", "_pool", "_pacing", "_level_pacing"):
            view.__dict__.pop(own, None)  # the samples die with the pool
        return view

    def _view_distributions(
        self, view: FrameFacts, src: list[list[int]], level: int | None
    ) -> None:
        """A view's distributions: each of its groups merges the samples of its
        source groups ``src[g]``; only the whole run (``level`` None) has a CDF."""
        n_names, codecs = self.n_names, view.codecs
        empty = distribution(np.zeros(0, np.int64))
        view.dists, view.codec_dists, view.cdf = {}, {}, {}
        view.track_cdf = {}
        for name in _DISTRIBUTIONS:
            held = [
                [
                    self._samples[(name, *self._group_key[g])]
                    for g in groups
                    if (name, *self._group_key[g]) in self._samples
                    and self._samples[(name, *self._group_key[g])].count
                ]
                for groups in src
            ]
            dists = [summarise(h) if h else empty for h in held]
            codec_dists = []
            for c, codec in enumerate(codecs):
                present = [g for g in range(c * n_names, (c + 1) * n_names) if held[g]]
                if len(present) == 1:
                    codec_dists.append(dists[present[0]])
                else:
                    codec_dists.append(summarise([x for g in present for x in held[g]]))
                if name == "latency_ms" and present and level is None:
                    view.cdf[codec] = _percentile_line(
                        [x for g in present for x in held[g]]
                    )
                    if len(present) > 1:
                        view.track_cdf[codec] = {
                            self.track_names[g % n_names]: _percentile_line(held[g])
                            for g in present
                        }
            view.dists[name] = dists
            view.codec_dists[name] = codec_dists

    def basis(self) -> dict[str, str | None]:
        """How loss and latency were measured, for readers of the summary."""
        if self.has_log:
            return {"loss": "send-log", "latency": self.clock.label()}
        return {"loss": "chunk-gaps" if self.frames.sum() else None, "latency": None}

    def has_data(self, group: int) -> bool:
        return bool(self.frames[group] or self.sent[group])

    def codec_metrics(self, codec: int) -> Json:
        """Frame metrics of every track of one codec together."""
        part = slice(codec * self.n_names, (codec + 1) * self.n_names)
        return self._metrics(part, {k: v[codec] for k, v in self.codec_dists.items()})

    def track_metrics(self, group: int) -> Json:
        """Frame metrics of one (codec, track) group."""
        out: Json = {"streams": int(self.streams[group])}
        dists = {k: v[group] for k, v in self.dists.items()}
        out.update(self._metrics(slice(group, group + 1), dists))
        return out

    def _metrics(self, part: slice, dists: dict[str, Json]) -> Json:
        def total(values: npt.NDArray[Any]) -> int:
            return int(values[part].sum())

        frames = total(self.frames)
        unique = total(self.unique)
        frames_sent: int | None
        if self.has_log:
            lost: int | None = total(self.sent_unique) - total(self.matched_unique)
            loss = ratio(lost or 0, total(self.sent_unique))
            frames_sent = total(self.sent)
        else:
            lost = total(self.gap_missing)
            loss = ratio(lost, total(self.gap_expected))
            frames_sent = None
        if self.has_log:
            bursts, longest = self.bursts, self.longest_burst
        else:
            bursts, longest = self._gap_bursts
        begin, end = int(self.first[part].min()), int(self.last[part].max())
        active_s = (end - begin) / 1e9 if end > begin else 0.0
        return {
            "frames": frames,
            "frames_sent": frames_sent,
            "frames_lost": lost if loss is not None else None,
            "loss_ratio": loss,
            "duplicates": total(self.valid) - unique,
            "reordered": total(self.reordered),
            "loss_bursts": {
                "count": total(bursts),
                "longest": int(longest[part].max(initial=0)),
            },
            **{name: dists[name] for name in _DISTRIBUTIONS},
            "jitter_ms": {
                **dists["jitter_ms"],
                "warmup_frames": total(self.jitter_warmup),
            },
            "throughput": {
                "active_s": round(active_s, 3),
                "frames_per_s": _per_s(frames, active_s),
                "bytes_per_s": _per_s(float(self.bytes[part].sum()), active_s),
                "realtime_factor": _per_s(unique * FRAME_NS / 1e9, active_s),
            },
        }


def _percentile_line(parts: list[Samples]) -> tuple[list[float], list[float]]:
    """Latency (ms) at each of :data:`_CDF_POINTS` the values can tell apart
    (up to ``1 - 1/n`` of ``n`` values: beyond, the line is only the max), and
    those percentiles."""
    n = sum(p.count for p in parts)
    qs = [q for q in _CDF_POINTS if q <= 1 - 1 / n] or [0.0]
    return [v / NS_PER_MS for v in quantiles_of(parts, qs)], qs


def _per_s(amount: float, span_s: float) -> float | None:
    return round(amount / span_s, 3) if span_s > 0 else None
