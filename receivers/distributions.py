"""Per-codec, per-track distributions kept by the receiver in bounded memory.

Every frame row a session emits passes through a :class:`FrameTap` on its way
to the sink; the tap adds the frame to three histograms of its codec and track
(:mod:`harness.histogram`):

* ``interarrival_ns``: arrival minus the previous arrival on the same track;
* ``jitter_ns``: the RFC 3550 estimate after the frame (the row's own value);
* ``transit_first_ns``: ``(arrival - media.timestamp)`` minus the same for the
  track's first frame, i.e. how much later than its first frame a frame came
  on the media clock. Signed; it needs no send log, so it works against a
  real platform.

Each flush writes the counts since the last one as ``histograms`` rows, so a
run's rows from every receiver process sum to exact run-wide histograms.
"""

from __future__ import annotations

from typing import Final, cast

from harness.histogram import Histogram
from harness.records import RowSink
from harness.session import StreamSession


__all__ = ["METRICS", "Distributions", "FrameTap"]

METRICS: Final = ("interarrival_ns", "jitter_ns", "transit_first_ns")
_MS: Final = 1_000_000
_FrameRow = tuple[str, str, int, int, int, int, int, float]
"""A ``frames`` row: sid, track, chunk, seq, timestamp_ms, arrival_ns, bytes, jitter."""


class Distributions:
    """Histograms keyed by (metric, codec, track), drained into records at flush."""

    def __init__(self, producer: str) -> None:
        self.producer = producer
        self.histograms: dict[tuple[str, str, str], Histogram] = {}

    def get(self, metric: str, codec: str, track: str) -> Histogram:
        key = (metric, codec, track)
        histogram = self.histograms.get(key)
        if histogram is None:
            histogram = self.histograms[key] = Histogram()
        return histogram

    def drain(self, sink: RowSink) -> int:
        """Add every count since the last drain as rows; return how many rows."""
        n = 0
        producer = self.producer
        for (metric, codec, track), histogram in self.histograms.items():
            for bucket, count in histogram.items():
                sink.add("histograms", (producer, metric, codec, track, bucket, count))
                n += 1
            histogram.clear()
        return n


class _Track:
    __slots__ = ("anchor", "interarrival", "jitter", "last", "transit")

    def __init__(
        self, dist: Distributions, codec: str, track: str, anchor: int
    ) -> None:
        self.last = 0
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
        _, name, _, _, timestamp, arrival, _, jitter = cast("_FrameRow", row)
        transit = arrival - timestamp * _MS
        track = self._tracks.get(name)
        if track is None:
            track = self._tracks[name] = _Track(
                self._dist, self._session.codec, name, transit
            )
        else:
            track.interarrival.record(arrival - track.last)
        track.last = arrival
        track.jitter.record(int(jitter))
        track.transit.record(transit - track.anchor)
