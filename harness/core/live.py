"""Live media metrics: what each receiver says in its ``stats`` lines, merged.

While a run goes, every receiver process puts one ``live`` object into its
``stats`` line (:func:`receiver_doc`): per announced codec and track, the
frames it received, the frames the chunk numbers say were due, and its
*cumulative* histograms (:mod:`harness.core.histogram`) of the two figures
the receivers measure without the send log: ``jitter_ns`` (RFC 3550) and
``transit_first_ns`` (arrival relative to the track's first frame on the media
clock: how much later than its first frame a frame came, i.e. the latency
a receiver can see against any platform). Plus, per codec, the streams open
now and started so far.

Cumulative, not deltas: a reader keeps only the latest line of each process
(and a ``--processes`` supervisor only each worker's latest), so a lost or
skipped line costs nothing. The buckets are sparse and delta-coded
(:func:`encode_counts`) to keep a line small.

Summing the docs of every receiver (:func:`merge`) gives exactly the
histograms the report later sums from the ``histograms`` records
(:mod:`reports.histograms`), once the receivers' last lines are in: the same
percentiles, to the bit, and the same frame counts.

Pure: dicts in, dicts out.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any, Final

from harness.core.histogram import Histogram


__all__ = [
    "FIELD",
    "LIVE_METRICS",
    "CodecView",
    "Live",
    "TrackLive",
    "decode_counts",
    "encode_counts",
    "merge",
    "ms",
    "progress_line",
    "receiver_doc",
]

FIELD: Final = "live"
"""The key of the live object in a receiver's ``stats`` line."""
LIVE_METRICS: Final = ("jitter_ns", "transit_first_ns")
"""The receivers' histograms (:mod:`receivers.distributions`) that go live."""
_SHORT: Final = {"jitter_ns": "jitter", "transit_first_ns": "transit"}
_NS_PER_MS: Final = 1_000_000


def encode_counts(counts: Mapping[int, int]) -> list[list[int]]:
    """``[bucket deltas, counts]``: buckets sorted, each minus the one before
    (the first as is), zero counts left out. Small integers print short."""
    deltas: list[int] = []
    values: list[int] = []
    previous = 0
    for bucket, count in sorted(counts.items()):
        if count:
            deltas.append(bucket - previous)
            values.append(count)
            previous = bucket
    return [deltas, values]


def decode_counts(doc: object) -> dict[int, int]:
    """The inverse of :func:`encode_counts`.

    Raises:
        ValueError: ``doc`` is not two equally long lists of integers.
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


def receiver_doc(
    histograms: Mapping[tuple[str, str, str], Mapping[int, int]],
    expected: Mapping[tuple[str, str], int],
    streams: Mapping[str, tuple[int, int]],
) -> dict[str, Any]:
    """One receiver's ``live`` object.

    Args:
        histograms: (metric, codec, track) -> cumulative bucket counts; only
            :data:`LIVE_METRICS` are kept.
        expected: (codec, track) -> frames due by the highest chunk of each
            track seen.
        streams: codec -> (open now, started so far).
    """
    tracks: dict[str, dict[str, dict[str, Any]]] = {}
    for (metric, codec, track), counts in histograms.items():
        short = _SHORT.get(metric)
        if short is None:
            continue
        entry = tracks.setdefault(codec, {}).setdefault(track, {})
        entry[short] = encode_counts(counts)
    for (codec, track), due in expected.items():
        tracks.setdefault(codec, {}).setdefault(track, {})["due"] = due
    return {
        "tracks": tracks,
        "streams": {
            codec: [n_open, n_started] for codec, (n_open, n_started) in streams.items()
        },
    }


@dataclasses.dataclass
class TrackLive:
    """One codec and track, summed over the receivers."""

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
class CodecView:
    """What the progress line, the endpoint and the Locust tab show for a codec."""

    codec: str
    streams_live: int
    streams_started: int
    frames: int
    lost: int
    loss_ratio: float | None
    transit_p50_ms: float | None
    transit_p99_ms: float | None
    jitter_p99_ms: float | None

    def as_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass
class Live:
    """Every receiver's live object summed: the run's media so far."""

    tracks: dict[tuple[str, str], TrackLive] = dataclasses.field(default_factory=dict)
    streams_open: dict[str, int] = dataclasses.field(default_factory=dict)
    streams_started: dict[str, int] = dataclasses.field(default_factory=dict)
    skipped: int = 0
    """Receiver docs left out because they were malformed."""

    def add(self, doc: Mapping[str, Any]) -> None:
        """Add one receiver's object (:func:`receiver_doc`).

        Raises:
            ValueError: it is malformed (nothing of it is added then).
        """
        tracks = doc.get("tracks", {})
        streams = doc.get("streams", {})
        if not (isinstance(tracks, dict) and isinstance(streams, dict)):
            raise ValueError("live object without tracks and streams")
        parsed: list[tuple[tuple[str, str], dict[str, dict[int, int]], int]] = []
        for codec, by_track in tracks.items():
            if not isinstance(by_track, dict):
                raise ValueError(f"codec {codec!r} is not an object")
            for track, entry in by_track.items():
                if not isinstance(entry, dict):
                    raise ValueError(f"track {track!r} is not an object")
                due = entry.get("due", 0)
                if not _is_int(due) or due < 0:
                    raise ValueError("due is not a count")
                hists = {
                    k: decode_counts(entry[k])
                    for k in ("jitter", "transit")
                    if k in entry
                }
                parsed.append(((str(codec), str(track)), hists, due))
        counts: list[tuple[str, int, int]] = []
        for codec, pair in streams.items():
            if not (
                isinstance(pair, list) and len(pair) == 2 and all(map(_is_int, pair))
            ):
                raise ValueError(f"streams of {codec!r} is not [open, started]")
            counts.append((str(codec), pair[0], pair[1]))
        for key, hists, due in parsed:
            track = self.tracks.setdefault(key, TrackLive())
            track.due += due
            for name, hist in hists.items():
                getattr(track, name).add_counts(hist.items())
        for codec, n_open, n_started in counts:
            self.streams_open[codec] = self.streams_open.get(codec, 0) + n_open
            self.streams_started[codec] = self.streams_started.get(codec, 0) + n_started

    def doc(self) -> dict[str, Any]:
        """This sum as one receiver's object (a ``--processes`` supervisor's line)."""
        histograms: dict[tuple[str, str, str], Mapping[int, int]] = {}
        for (codec, track), t in self.tracks.items():
            histograms["jitter_ns", codec, track] = t.jitter.counts
            histograms["transit_first_ns", codec, track] = t.transit.counts
        return receiver_doc(
            histograms,
            {key: t.due for key, t in self.tracks.items()},
            {
                codec: (
                    self.streams_open.get(codec, 0),
                    self.streams_started.get(codec, 0),
                )
                for codec in self.streams_open.keys() | self.streams_started.keys()
            },
        )

    def codecs(self) -> list[CodecView]:
        """Per codec (tracks merged), in name order."""
        names = sorted(
            {c for c, _ in self.tracks}
            | self.streams_open.keys()
            | self.streams_started.keys()
        )
        return [self.codec(name) for name in names]

    def codec(self, name: str) -> CodecView:
        jitter, transit = Histogram(), Histogram()
        due = frames = lost = 0
        for (codec, _), t in self.tracks.items():
            if codec == name:
                jitter.merge(t.jitter)
                transit.merge(t.transit)
                due += t.due
                frames += t.frames
                lost += t.lost
        t50, t99 = transit.percentiles([0.5, 0.99])
        return CodecView(
            codec=name,
            streams_live=self.streams_open.get(name, 0),
            streams_started=self.streams_started.get(name, 0),
            frames=frames,
            lost=lost,
            loss_ratio=round(lost / (frames + lost), 6) if frames + lost else None,
            transit_p50_ms=ms(t50),
            transit_p99_ms=ms(t99),
            jitter_p99_ms=ms(jitter.percentile(0.99)),
        )

    def summary(self) -> dict[str, Any]:
        """A JSON document of the codec views and per-track figures (``live.json``)."""
        return {
            "codecs": {v.codec: v.as_json() for v in self.codecs()},
            "tracks": {
                f"{codec}/{track}": {
                    "frames": t.frames,
                    "lost": t.lost,
                    "transit_p99_ms": ms(t.transit.percentile(0.99)),
                    "jitter_p99_ms": ms(t.jitter.percentile(0.99)),
                }
                for (codec, track), t in sorted(self.tracks.items())
            },
            "skipped": self.skipped,
        }


def ms(value_ns: float | None) -> float | None:
    """ns to ms at a microsecond, as the report rounds (:func:`reports.stats.ms`)."""
    return None if value_ns is None else round(value_ns / _NS_PER_MS, 3)


def merge(docs: Iterable[object]) -> Live:
    """Sum every receiver's live object; a malformed one is counted and skipped."""
    live = Live()
    for doc in docs:
        if not isinstance(doc, dict):
            if doc is not None:
                live.skipped += 1
            continue
        try:
            live.add(doc)
        except (ValueError, KeyError):
            live.skipped += 1
    return live


def progress_line(live: Live) -> str:
    """One line of per-codec media figures for the console, e.g.
    ``media PCMU: 4 live, p99 0.21 ms, jitter p99 0.05 ms, loss 0.00% | ...``."""
    parts = []
    for v in live.codecs():
        p99 = "-" if v.transit_p99_ms is None else f"{v.transit_p99_ms:.2f} ms"
        jit = "-" if v.jitter_p99_ms is None else f"{v.jitter_p99_ms:.2f} ms"
        loss = "-" if v.loss_ratio is None else f"{v.loss_ratio:.2%}"
        parts.append(
            f"{v.codec}: {v.streams_live} live, p99 {p99}, jitter p99 {jit}, loss {loss}"
        )
    return "media " + " | ".join(parts) if parts else "media: no frames yet"
