"""Live media metrics: what each receiver says in its ``stats`` lines, summed.

While a run goes, every receiver process puts one ``live`` object into each
``stats`` line (:func:`receiver_doc`): per announced codec and track, what
changed since its previous line in the histograms (:mod:`harness.core.histogram`)
of the two figures a receiver measures without the send log, ``jitter_ns``
(RFC 3550) and ``transit_first_ns`` (arrival relative to the track's first
frame on the media clock: how much later than its first frame a frame came,
the latency a receiver can see against any platform), and in the frames the
chunk numbers say were due; per codec, the streams started since, and the
streams open now. A ``seq`` number counts the lines, so a reader can tell
that it missed one (:attr:`Live.gaps`).

Deltas, not running totals: a line costs what changed since the last (the
receivers send what each flush took, so bounded by a second's traffic),
never the whole run's history. Measured (``scripts/bench_live.py``, 10
histograms of widely spread values, after 10 minutes): running totals cost
the receiver's event loop 33 ms a line at 50 streams, 66 ms at 500, time its
latency figures would have shown; deltas 2-5 ms and 10-15 ms, and 0.2 and
1.2 ms since msgspec writes the lines (:func:`harness.core.lines.encode`) and
the receiver encodes the histograms off its loop (``encoded``). The reader
(:class:`Live`, fed every line) keeps the totals.

Summing every line of every receiver gives exactly the histograms the report
later sums from the ``histograms`` records (:mod:`reports.histograms`), once
the receivers' last lines are in: the same percentiles, to the bit, and the
same frame counts.

Pure: dicts in, dicts out.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any, Final

import numpy as np

from harness.core.histogram import Histogram


__all__ = [
    "COLUMNS",
    "FIELD",
    "LIVE_FILE",
    "LIVE_METRICS",
    "QUANTILES",
    "CodecView",
    "Figures",
    "Live",
    "TrackFigures",
    "TrackLive",
    "decode_counts",
    "encode_counts",
    "ms",
    "progress_line",
    "receiver_doc",
    "table_rows",
]

FIELD: Final = "live"
"""The key of the live object in a receiver's ``stats`` line."""
LIVE_FILE: Final = "live.json"
"""The live figures in the run directory (:meth:`Figures.as_json` and the
run's state), rewritten by ``streamload run`` at each change; Locust's web UI
"Media" tab reads it."""
LIVE_METRICS: Final = ("jitter_ns", "transit_first_ns")
"""The receivers' histograms (:mod:`receivers.distributions`) that go live."""
QUANTILES: Final = (0.5, 0.99, 0.999)
"""The quantiles shown live (the report's p50, p99, p999)."""
COLUMNS: Final = (
    ("codec", "Codec"),
    ("streams_live", "Streams live"),
    ("streams_started", "Started"),
    ("frames", "Frames received"),
    ("lost", "Frames lost"),
    ("loss_ratio", "Loss ratio"),
    ("transit_p50_ms", "Transit p50 (ms)"),
    ("transit_p99_ms", "Transit p99 (ms)"),
    ("jitter_p99_ms", "Jitter p99 (ms)"),
)
"""A table of the codecs' figures (Locust's Media tab): key, title."""
_SHORT: Final = {"jitter_ns": "jitter", "transit_first_ns": "transit"}
_NS_PER_MS: Final = 1_000_000


def encode_counts(counts: Mapping[int, int]) -> list[list[int]]:
    """``[bucket deltas, counts]``: buckets sorted, each minus the one before
    (the first as is), zero counts left out. Small integers print short.

    NumPy's sort: a receiver encodes thousands of buckets a line on its loop,
    4x faster than ``sorted`` over the items.
    """
    n = len(counts)
    buckets = np.fromiter(counts.keys(), np.int64, n)
    values = np.fromiter(counts.values(), np.int64, n)
    order = np.argsort(buckets, kind="stable")
    buckets, values = buckets[order], values[order]
    kept = values != 0
    buckets, values = buckets[kept], values[kept]
    deltas: list[int] = np.diff(buckets, prepend=0).tolist()
    return [deltas, values.tolist()]


def decode_counts(doc: object) -> dict[int, int]:
    """The inverse of :func:`encode_counts`.

    Raises:
        ValueError: ``doc`` is not two equally long lists of integers, the
            counts not positive.
    """
    if not (isinstance(doc, list) and len(doc) == 2):
        raise ValueError("histogram is not [deltas, counts]")
    deltas, values = doc
    if not (isinstance(deltas, list) and isinstance(values, list)):
        raise ValueError("histogram is not [deltas, counts]")
    if len(deltas) != len(values):
        raise ValueError("histogram deltas and counts differ in length")
    out: dict[int, int] = {}
    bucket = 0
    for delta, count in zip(deltas, values, strict=True):
        if not (_is_int(delta) and _is_int(count)) or count < 0:
            raise ValueError("histogram holds a non-integer or negative count")
        bucket += delta
        out[bucket] = out.get(bucket, 0) + count
    return out


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _count(value: object, what: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    raise ValueError(f"{what} is not a count")


def receiver_doc(
    seq: int,
    histograms: Mapping[tuple[str, str, str], Mapping[int, int]],
    due: Mapping[tuple[str, str], int],
    started: Mapping[str, int],
    open_now: Mapping[str, int],
    encoded: Mapping[tuple[str, str, str], list[list[int]]] | None = None,
) -> dict[str, Any]:
    """One ``live`` object.

    Args:
        seq: this line's number (1, 2, ...) from this process.
        histograms: (metric, codec, track) -> bucket counts since the last
            line; only :data:`LIVE_METRICS` are kept.
        due: (codec, track) -> frames due (by the highest chunk) since the last line.
        started: codec -> streams started since the last line.
        open_now: codec -> streams open now.
        encoded: histograms already in :func:`encode_counts`'s form, by the
            same keys (a receiver builds them off its loop); the rest are
            encoded here.
    """
    tracks: dict[str, dict[str, dict[str, Any]]] = {}
    for (metric, codec, track), counts in histograms.items():
        short = _SHORT.get(metric)
        if short is None or not counts:
            continue
        entry = tracks.setdefault(codec, {}).setdefault(track, {})
        found = None if encoded is None else encoded.get((metric, codec, track))
        entry[short] = encode_counts(counts) if found is None else found
    for (codec, track), n in due.items():
        if n:
            tracks.setdefault(codec, {}).setdefault(track, {})["due"] = n
    return {
        "seq": seq,
        "tracks": tracks,
        "started": {c: n for c, n in started.items() if n},
        "open": {c: n for c, n in open_now.items() if n},
    }


@dataclasses.dataclass
class TrackLive:
    """One codec and track, summed over the lines read."""

    jitter: Histogram = dataclasses.field(default_factory=Histogram)
    transit: Histogram = dataclasses.field(default_factory=Histogram)
    due: int = 0

    @property
    def frames(self) -> int:
        """Frames received: every frame goes into the transit histogram."""
        return self.transit.total

    @property
    def lost(self) -> int:
        """Frames due by the highest chunk and not received (a lost tail is unseen)."""
        return max(self.due - self.frames, 0)


@dataclasses.dataclass(frozen=True)
class TrackFigures:
    """One codec and track at one moment: what the endpoint serves."""

    frames: int
    lost: int
    transit_ns: tuple[float | None, ...]
    """At :data:`QUANTILES`."""
    jitter_ns: tuple[float | None, ...]


@dataclasses.dataclass(frozen=True)
class CodecView:
    """A codec (its tracks together) at one moment: progress line, ``live.json``, tab."""

    codec: str
    streams_live: int
    streams_started: int
    frames: int
    lost: int
    loss_ratio: float | None
    transit_p50_ms: float | None
    transit_p99_ms: float | None
    jitter_p99_ms: float | None


@dataclasses.dataclass(frozen=True)
class Figures:
    """Everything shown live, computed once per change; never changed after."""

    tracks: dict[tuple[str, str], TrackFigures]
    codecs: list[CodecView]
    gaps: int
    """Lines missed (a ``seq`` skipped) or unreadable: the figures lack them."""

    def codec(self, name: str) -> CodecView:
        """The view of codec ``name``.

        Raises:
            KeyError: no such codec was seen.
        """
        for view in self.codecs:
            if view.codec == name:
                return view
        raise KeyError(name)

    def as_json(self) -> dict[str, Any]:
        """``live.json``'s figures (tracks as ``CODEC/TRACK``)."""
        return {
            "codecs": {v.codec: dataclasses.asdict(v) for v in self.codecs},
            "tracks": {
                f"{codec}/{track}": {
                    "frames": t.frames,
                    "lost": t.lost,
                    "transit_p99_ms": ms(t.transit_ns[1]),
                    "jitter_p99_ms": ms(t.jitter_ns[1]),
                }
                for (codec, track), t in sorted(self.tracks.items())
            },
            "gaps": self.gaps,
        }


@dataclasses.dataclass
class Live:
    """The running totals of the live objects of one or more receivers."""

    tracks: dict[tuple[str, str], TrackLive] = dataclasses.field(default_factory=dict)
    started: dict[str, int] = dataclasses.field(default_factory=dict)
    open: dict[str, dict[str, int]] = dataclasses.field(default_factory=dict)
    """Source -> codec -> streams open, from the source's latest line."""
    seqs: dict[str, int] = dataclasses.field(default_factory=dict)
    gaps: int = 0

    def feed(self, source: str, doc: object) -> None:
        """Add one line's object from ``source``; a malformed one counts as a gap.

        A ``seq`` other than the one after ``source``'s previous adds the lines
        skipped to :attr:`gaps`. Nothing of a malformed object is added.
        """
        try:
            seq, tracks, started, open_now = _parse(doc)
        except ValueError:
            self.gaps += 1
            return
        previous = self.seqs.get(source, 0)
        self.gaps += max(seq - previous - 1, 0)
        self.seqs[source] = seq
        for key, hists, due in tracks:
            track = self.tracks.get(key)
            if track is None:
                track = self.tracks[key] = TrackLive()
            track.due += due
            for name, counts in hists.items():
                getattr(track, name).add_counts(counts.items())
        for codec, n in started.items():
            self.started[codec] = self.started.get(codec, 0) + n
        self.open[source] = open_now

    def open_now(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for by_codec in self.open.values():
            for codec, n in by_codec.items():
                out[codec] = out.get(codec, 0) + n
        return out

    def doc(self, seq: int) -> dict[str, Any]:
        """These totals as one line's object (a ``--processes`` supervisor's)."""
        histograms: dict[tuple[str, str, str], Mapping[int, int]] = {}
        for (codec, track), t in self.tracks.items():
            histograms["jitter_ns", codec, track] = t.jitter.counts
            histograms["transit_first_ns", codec, track] = t.transit.counts
        due = {key: t.due for key, t in self.tracks.items()}
        return receiver_doc(seq, histograms, due, self.started, self.open_now())

    def figures(self) -> Figures:
        """Percentiles and counts now (O(buckets): once per change)."""
        tracks = {
            key: TrackFigures(
                frames=t.frames,
                lost=t.lost,
                transit_ns=tuple(t.transit.percentiles(QUANTILES)),
                jitter_ns=tuple(t.jitter.percentiles(QUANTILES)),
            )
            for key, t in sorted(self.tracks.items())
        }
        open_now = self.open_now()
        names = sorted(
            {c for c, _ in self.tracks} | open_now.keys() | self.started.keys()
        )
        return Figures(tracks, [self._codec(n, open_now) for n in names], self.gaps)

    def _codec(self, name: str, open_now: Mapping[str, int]) -> CodecView:
        jitter, transit = Histogram(), Histogram()
        frames = lost = 0
        for (codec, _), t in self.tracks.items():
            if codec == name:
                jitter.merge(t.jitter)
                transit.merge(t.transit)
                frames += t.frames
                lost += t.lost
        t50, t99 = transit.percentiles([0.5, 0.99])
        return CodecView(
            codec=name,
            streams_live=open_now.get(name, 0),
            streams_started=self.started.get(name, 0),
            frames=frames,
            lost=lost,
            loss_ratio=round(lost / (frames + lost), 6) if frames + lost else None,
            transit_p50_ms=ms(t50),
            transit_p99_ms=ms(t99),
            jitter_p99_ms=ms(jitter.percentile(0.99)),
        )


_Parsed = tuple[
    int,
    list[tuple[tuple[str, str], dict[str, dict[int, int]], int]],
    dict[str, int],
    dict[str, int],
]


def _parse(doc: object) -> _Parsed:
    """Check and decode one object whole (so a bad one adds nothing)."""
    if not isinstance(doc, dict):
        raise ValueError("live object is not an object")
    seq = _count(doc.get("seq"), "seq")
    tracks, started, open_now = (doc.get(k, {}) for k in ("tracks", "started", "open"))
    if not all(isinstance(x, dict) for x in (tracks, started, open_now)):
        raise ValueError("live object's tracks, started or open is not an object")
    parsed: list[tuple[tuple[str, str], dict[str, dict[int, int]], int]] = []
    for codec, by_track in tracks.items():
        if not isinstance(by_track, dict):
            raise ValueError(f"codec {codec!r} is not an object")
        for track, entry in by_track.items():
            if not isinstance(entry, dict):
                raise ValueError(f"track {track!r} is not an object")
            due = _count(entry.get("due", 0), "due")
            hists = {
                k: decode_counts(entry[k]) for k in ("jitter", "transit") if k in entry
            }
            parsed.append(((str(codec), str(track)), hists, due))
    return (
        seq,
        parsed,
        {str(c): _count(n, "started") for c, n in started.items()},
        {str(c): _count(n, "open") for c, n in open_now.items()},
    )


def ms(value_ns: float | None) -> float | None:
    """ns to ms at a microsecond, as the report rounds (:func:`reports.stats.ms`)."""
    return None if value_ns is None else round(value_ns / _NS_PER_MS, 3)


def merge(docs: Iterable[tuple[str, object]]) -> Live:
    """Totals of ``(source, object)`` lines, in order."""
    live = Live()
    for source, doc in docs:
        live.feed(source, doc)
    return live


def progress_line(figures: Figures) -> str:
    """One line of per-codec media figures for the console, e.g.
    ``media PCMU: 4 live, p99 0.21 ms, jitter p99 0.05 ms, loss 0.00% | ...``."""
    parts = []
    for v in figures.codecs:
        p99 = "-" if v.transit_p99_ms is None else f"{v.transit_p99_ms:.2f} ms"
        jit = "-" if v.jitter_p99_ms is None else f"{v.jitter_p99_ms:.2f} ms"
        loss = "-" if v.loss_ratio is None else f"{v.loss_ratio:.2%}"
        parts.append(
            f"{v.codec}: {v.streams_live} live, p99 {p99}, jitter p99 {jit}, loss {loss}"
        )
    return "media " + " | ".join(parts) if parts else "media: no frames yet"


def table_rows(doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per codec of a ``live.json`` document, the :data:`COLUMNS`."""
    codecs = doc.get("codecs")
    if not isinstance(codecs, dict):
        return []
    return [
        {key: view.get(key) for key, _ in COLUMNS}
        for _, view in sorted(codecs.items())
        if isinstance(view, dict)
    ]
