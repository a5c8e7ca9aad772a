"""Per-frame arithmetic: received frames against the send log, as integer codes.

Frames carry no codec, so each frame takes its stream's codec through the stream
sid. A frame's identity ``(stream, track, chunk)`` is packed into one int64, so
the join with the send log is a sorted search rather than a string merge, and a
60M-frame run costs a few sorts instead of a Python loop per row. Everything is
reduced here, eagerly, to counts and distributions per group, where a group is
one ``(codec, track)`` with code ``codec * n_tracks + track``: per-frame arrays
are dropped as soon as they are summarised, to keep peak memory near a few
int64 columns of the frame table.
"""

from __future__ import annotations

import math
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from harness.errors import HarnessError
from reports.load import Run
from reports.stats import NS_PER_MS, distribution, quantiles, ratio


__all__ = ["FRAME_NS", "UNKNOWN", "FrameFacts", "categories"]

FRAME_NS: Final = 20_000_000
"""One media frame: 20 ms (api.md §5.5)."""
UNKNOWN: Final = "unknown"
"""Codec or track name when no record says which."""

_MAX_RATE_BINS: Final = 1000
_CDF_POINTS: Final = tuple(
    sorted({*np.linspace(0.0, 1.0, 101).round(4).tolist(), 0.995, 0.999, 0.9999})
)
_DISTRIBUTIONS: Final = (
    "latency_ms",
    "lateness_ms",
    "transit_relative_ms",
    "jitter_ms",
    "interarrival_ms",
)

I64 = npt.NDArray[np.int64]
Codes = npt.NDArray[np.integer[Any]]
Json = dict[str, Any]


def categories(column: pd.Series[Any]) -> list[str]:
    """Distinct non-missing values of a (categorical or string) column."""
    return [str(c) for c in column.astype("category").cat.categories]


def _positions(column: pd.Series[Any], universe: pd.Index[str]) -> I64:
    """Each row's position in ``universe`` (int64); a missing value maps to ``""``."""
    cat = column.astype("category").cat
    names = pd.Index([str(c) for c in cat.categories], dtype=object)
    lookup = universe.get_indexer(names).astype(np.int64)
    lookup = np.append(lookup, np.int64(universe.get_indexer(pd.Index([""]))[0]))
    # Codes of -1 (missing) pick the appended last entry.
    return lookup[cat.codes.to_numpy()]


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
    """

    def __init__(self, run: Run, sid_codec: pd.Series[str], codecs: list[str]) -> None:
        frames, sent = run.frames, run.sent_frames
        self.codecs = codecs
        self.has_log = len(sent) > 0
        hosts = run.producers["host"]
        self.one_host = int(hosts[hosts != ""].nunique()) <= 1
        sids = pd.Index(
            sorted(
                {""}
                | set(categories(frames["stream_sid"]))
                | set(categories(sent["stream_sid"]))
            ),
            dtype=object,
        )
        track_list = sorted(
            {""} | set(categories(frames["track"])) | set(categories(sent["track"]))
        )
        self.track_names = [t or UNKNOWN for t in track_list]
        tracks = pd.Index(track_list, dtype=object)
        self.nt = nt = len(track_list)
        self.n_groups = n = len(codecs) * nt
        names = sid_codec.reindex(sids).fillna(UNKNOWN).astype(str)
        self.to_codec = pd.Index(codecs).get_indexer(pd.Index(names)).astype(np.int64)
        self.dists: dict[str, list[Json]] = {}
        """Metric -> distribution per group."""
        self.codec_dists: dict[str, list[Json]] = {}
        """Metric -> distribution per codec."""
        self.cdf: dict[str, tuple[list[float], list[float]]] = {}

        chunk = frames["chunk"].to_numpy(np.int64)
        arrival = frames["arrival_ns"].to_numpy(np.int64)
        s_chunk = sent["chunk"].to_numpy(np.int64)
        self.span = span = int(max(chunk.max(initial=0), s_chunk.max(initial=0))) + 1
        if len(sids) * nt * span >= 2**62:
            raise HarnessError(
                f"frame keys overflow: {len(sids)} streams x {nt} tracks x "
                f"{span} chunks; report on fewer streams at a time"
            )
        self._read_log(sent, sids, tracks)
        f_sid = _positions(frames["stream_sid"], sids)
        f_track = _positions(frames["track"], tracks)
        used = np.flatnonzero(np.bincount(f_sid, minlength=len(sids)))
        self.sids_with_frames = [s for s in sids[used] if s]
        group = self._narrow(self.to_codec[f_sid] * nt + f_track)
        tkey = f_sid * nt + f_track
        del f_track
        self._lateness(run.platform_streams, sids, f_sid, chunk, arrival, group)
        del f_sid

        self.frames = np.bincount(group, minlength=n)
        payload = frames["payload_bytes"].to_numpy(np.float64)
        self.bytes = np.bincount(group, weights=payload, minlength=n)
        del payload
        self._reduce("jitter_ms", frames["jitter_ns"].to_numpy(np.float64), group)

        # One sort by (track, chunk) serves duplicates, loss, the join with the
        # send log (sorted needles make the binary search cheap) and, unless a
        # track arrived out of order, the walk in arrival order too. Chunks
        # start at 1 (api.md §5.2); a frame with chunk < 1 counts as received
        # but takes no part in loss or transit.
        order = np.argsort(tkey * span + np.maximum(chunk, 0), kind="stable")
        key = tkey[order] * span + np.maximum(chunk[order], 0)
        valid = chunk[order] >= 1
        g_sorted = group[order]
        first_of_key = np.r_[True, key[1:] != key[:-1]] if len(key) else valid
        unique = first_of_key & valid
        self.valid = np.bincount(g_sorted[valid], minlength=n)
        self.unique = np.bincount(g_sorted[unique], minlength=n)
        self.gap_missing, self.gap_expected = self._gaps(key[unique], g_sorted[unique])
        del unique
        self.bursts = np.zeros(n, np.int64)
        """Runs of consecutive lost chunks per group."""
        self.longest_burst = np.zeros(n, np.int64)
        """Longest such run per group (0: no loss)."""

        # The send log: rows, unique keys, and the transit of frames that match.
        arr_sorted = arrival[order]
        pos, hit = self._match(key, valid, first_of_key, g_sorted)
        if self.has_log:
            missed = np.ones(len(self._log_keys), bool)
            missed[pos[hit]] = False
            self._bursts(self._log_keys[missed], self._log_group[missed])
        self._reduce(
            "latency_ms",
            arr_sorted[hit] - self._log_sent[pos[hit]],
            g_sorted[hit],
            cdf=True,
        )
        del key, valid, first_of_key, pos, hit

        # Arrival order per track: interarrival, reordering, relative transit.
        tk_sorted = tkey[order]
        same = np.zeros(len(order), bool)
        same[1:] = tk_sorted[1:] == tk_sorted[:-1]
        del tk_sorted
        ch_sorted = np.maximum(chunk[order], 0)
        if np.any(same[1:] & (arr_sorted[1:] < arr_sorted[:-1])):
            order = np.lexsort((arrival, tkey))
            tk_sorted, arr_sorted = tkey[order], arrival[order]
            g_sorted, ch_sorted = group[order], np.maximum(chunk[order], 0)
            same[1:] = tk_sorted[1:] == tk_sorted[:-1]
            del tk_sorted
        del order, tkey
        self._walk(same, arr_sorted, ch_sorted, g_sorted)
        del same, arr_sorted, ch_sorted, g_sorted

        # Frames per second over time, per codec.
        t0 = int(arrival.min()) if len(arrival) else 0
        duration_s = (int(arrival.max()) - t0) / 1e9 if len(arrival) else 0.0
        self.rate_bin_s = float(max(1, math.ceil(duration_s / _MAX_RATE_BINS)))
        bins = (arrival - t0) // int(self.rate_bin_s * 1e9)
        n_bins = int(bins.max(initial=-1)) + 1
        self.rate_counts = np.bincount(
            (group // nt) * n_bins + bins, minlength=len(codecs) * n_bins
        ).reshape(len(codecs), n_bins)

    def _narrow(self, codes: I64) -> Codes:
        """Group codes in the smallest integer type that holds them."""
        return codes.astype(np.int16 if self.n_groups < 2**15 else np.int64)

    def _gaps(self, keys: I64, groups: Codes) -> tuple[I64, I64]:
        """Per group: chunks missing below each track's highest, and the highests.

        ``keys`` are the sorted distinct valid frame keys, ``groups`` theirs.
        Without a send log, also the loss bursts: each gap between received
        chunks of a track (and before its first) is one burst.
        """
        n = self.n_groups
        if not len(keys):
            self._gap_bursts = (np.zeros(n, np.int64), np.zeros(n, np.int64))
            return np.zeros(n, np.int64), np.zeros(n, np.int64)
        tkey = keys // self.span
        first = np.r_[True, tkey[1:] != tkey[:-1]]
        starts = np.flatnonzero(first)
        ends = np.r_[starts[1:], len(tkey)]
        highest = keys[ends - 1] % self.span
        group = groups[starts]
        missing = np.bincount(group, weights=highest - (ends - starts), minlength=n)
        expected = np.bincount(group, weights=highest, minlength=n)
        chunk = keys % self.span
        gap = np.where(first, chunk - 1, np.diff(chunk, prepend=0) - 1)
        lost = gap > 0
        longest = np.zeros(n, np.int64)
        np.maximum.at(longest, groups[lost], gap[lost])
        self._gap_bursts = (np.bincount(groups[lost], minlength=n), longest)
        return missing.astype(np.int64), expected.astype(np.int64)

    def _bursts(self, missing: I64, groups: Codes) -> None:
        """Loss bursts from the send log's sorted keys that never arrived."""
        if not len(missing):
            return
        starts = np.flatnonzero(np.r_[True, np.diff(missing) != 1])
        lengths = np.diff(np.r_[starts, len(missing)])
        run_group = groups[starts]
        self.bursts = np.bincount(run_group, minlength=self.n_groups)
        np.maximum.at(self.longest_burst, run_group, lengths)

    def _lateness(
        self,
        platform: pd.DataFrame,
        sids: pd.Index[str],
        f_sid: I64,
        chunk: I64,
        arrival: I64,
        group: Codes,
    ) -> None:
        """Arrival against the schedule: first media due + (chunk - 1) x 20 ms.

        The schedule is the platform's (``platform_streams.first_due_ns``), so a
        late sender shows here and not in transit (architecture.md "Measure
        against the schedule"); streams without one are left out.
        """
        rows = platform[platform["first_due_ns"] > 0].drop_duplicates("stream_sid")
        due = pd.Series(
            rows["first_due_ns"].to_numpy(np.int64),
            index=pd.Index(rows["stream_sid"].astype(str), dtype=object),
        )
        first_due = due.reindex(sids).fillna(0).to_numpy(np.int64)
        self.has_schedule = bool(len(rows))
        per_frame = first_due[f_sid]
        ok = (per_frame > 0) & (chunk >= 1)
        if ok.all():
            late = arrival - per_frame - (chunk - 1) * FRAME_NS
            self._reduce("lateness_ms", late, group)
        else:
            late = arrival[ok] - per_frame[ok] - (chunk[ok] - 1) * FRAME_NS
            self._reduce("lateness_ms", late, group[ok])

    def _read_log(
        self, sent: pd.DataFrame, sids: pd.Index[str], tracks: pd.Index[str]
    ) -> None:
        """Count the send log per group; keep its sorted distinct keys and send times."""
        nt, span, n = self.nt, self.span, self.n_groups
        s_sid = _positions(sent["stream_sid"], sids)
        s_track = _positions(sent["track"], tracks)
        s_chunk = sent["chunk"].to_numpy(np.int64)
        s_group = self.to_codec[s_sid] * nt + s_track
        self.sent = np.bincount(s_group, minlength=n)
        ok = s_chunk >= 1
        keys = ((s_sid * nt + s_track) * span + s_chunk)[ok]
        del s_sid, s_track, s_chunk
        self._log_keys, first_row = _unique_first(keys)
        del keys
        self._log_sent = sent["sent_ns"].to_numpy(np.int64)[ok][first_row]
        self._log_group = s_group[ok][first_row]
        self.sent_unique = np.bincount(self._log_group, minlength=n)
        pacing = sent["sent_ns"].to_numpy(np.int64) - sent["due_ns"].to_numpy(np.int64)
        has_due = sent["due_ns"].to_numpy(np.int64) > 0
        self.pacing_ns = pacing[has_due]
        """The sender's own lateness per frame (sent - due): the harness's pacing."""

    def _match(
        self,
        key: I64,
        valid: npt.NDArray[np.bool_],
        first_of_key: npt.NDArray[np.bool_],
        group: Codes,
    ) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.bool_]]:
        """Find each (sorted) frame's entry in the send log.

        Returns the log position of each frame and whether it matched there;
        :attr:`_log_sent` holds the send time at each position.
        """
        log_keys = self._log_keys
        self.matched_unique = np.zeros(self.n_groups, np.int64)
        if not len(log_keys):
            return np.zeros(len(key), np.intp), np.zeros(len(key), bool)
        pos = np.minimum(np.searchsorted(log_keys, key), len(log_keys) - 1)
        hit = valid & (log_keys[pos] == key)
        self.matched_unique = np.bincount(
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
        self.streams = np.bincount(run_group, minlength=n)
        self.first = np.full(n, np.iinfo(np.int64).max)
        self.last = np.full(n, np.iinfo(np.int64).min)
        np.minimum.at(self.first, run_group, arrival[starts])
        np.maximum.at(self.last, run_group, arrival[ends])
        self._reduce("interarrival_ms", np.diff(arrival)[same[1:]], group[1:][same[1:]])
        track_run = np.cumsum(~same) - 1
        packed = track_run * span + chunk
        highest = np.maximum.accumulate(packed) if len(packed) else packed
        late = np.zeros(len(packed), bool)
        late[1:] = same[1:] & (packed[1:] < highest[:-1])
        del packed, highest
        self.reordered = np.bincount(group[late], minlength=n)
        del late
        schedule = arrival - chunk * FRAME_NS
        if len(schedule):
            schedule -= np.minimum.reduceat(schedule, starts)[track_run]
        self._reduce("transit_relative_ms", schedule, group)

    def _reduce(
        self, name: str, values: npt.NDArray[Any], group: Codes, *, cdf: bool = False
    ) -> None:
        """Summarise ``values`` per group and per codec, one codec's copy at a time."""
        nt = self.nt
        counts = np.bincount(group, minlength=self.n_groups)
        dists = [distribution(values[:0])] * self.n_groups
        codec_dists = []
        for c, codec in enumerate(self.codecs):
            lo, hi = c * nt, (c + 1) * nt
            if counts[lo:hi].sum() == len(values):
                mine, mine_group = values, group
            else:
                chosen = (group >= lo) & (group < hi)
                mine, mine_group = values[chosen], group[chosen]
            present = [g for g in range(lo, hi) if counts[g]]
            for g in present:
                one = len(present) == 1
                dists[g] = distribution(mine if one else mine[mine_group == g])
            codec_dists.append(
                dists[present[0]] if len(present) == 1 else distribution(mine)
            )
            if cdf and len(mine):
                xs = [v / NS_PER_MS for v in quantiles(mine, _CDF_POINTS)]
                self.cdf[codec] = (xs, list(_CDF_POINTS))
        self.dists[name] = dists
        self.codec_dists[name] = codec_dists

    def basis(self) -> dict[str, str | None]:
        """How loss and latency were measured, for readers of the summary."""
        if self.has_log:
            latency = (
                "send-log" if self.one_host else "send-log, clocks of several hosts"
            )
            return {"loss": "send-log", "latency": latency}
        return {"loss": "chunk-gaps" if self.frames.sum() else None, "latency": None}

    def has_data(self, group: int) -> bool:
        return bool(self.frames[group] or self.sent[group])

    def codec_metrics(self, codec: int) -> Json:
        """Frame metrics of every track of one codec together."""
        part = slice(codec * self.nt, (codec + 1) * self.nt)
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
            "throughput": {
                "active_s": round(active_s, 3),
                "frames_per_s": _per_s(frames, active_s),
                "bytes_per_s": _per_s(float(self.bytes[part].sum()), active_s),
                "realtime_factor": _per_s(unique * FRAME_NS / 1e9, active_s),
            },
        }

    def rates(self) -> dict[str, tuple[list[float], list[float]]]:
        """Codec -> (bin start in s from the first frame, frames per second)."""
        n_bins = self.rate_counts.shape[1]
        starts = [i * self.rate_bin_s for i in range(n_bins)]
        return {
            codec: (starts, (row / self.rate_bin_s).round(3).tolist())
            for codec, row in zip(self.codecs, self.rate_counts, strict=True)
            if row.sum()
        }


def _per_s(amount: float, span_s: float) -> float | None:
    return round(amount / span_s, 3) if span_s > 0 else None
