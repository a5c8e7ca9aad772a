"""receivers.distributions: the flush-at-a-time histograms against a frame-at-a-time oracle."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
from hypothesis import given, settings, strategies as st

from harness.core.histogram import Histogram
from harness.core.live import LIVE_METRICS, Live, encode_counts, merge
from harness.core.metrics.jitter import WARMUP_FRAMES
from harness.core.records import MemorySink
from harness.core.session import StreamSession
from harness.io.sink import Batch, ColumnBuffer, RecordSink
from receivers.distributions import (
    MAX_HISTOGRAMS,
    METRICS,
    OVERFLOW,
    Distributions,
    Frames,
    Taken,
    histogram_columns,
)
from tests.receivers.helpers import row_dicts, stream_messages


MS = 1_000_000
Row = tuple[str, str, int, int, int, int, int, float]


class Oracle:
    """The definition, a frame at a time, as the receiver counted before the fold:
    an independent spelling that the vectorised fold must agree with."""

    def __init__(self) -> None:
        self.hist: dict[tuple[str, str, str], Histogram] = {}
        self.tracks: dict[tuple[str, str], list[int]] = {}  # last, anchor, highest
        self.due: dict[tuple[str, str], int] = {}
        self.started: dict[str, int] = {}
        self.streams: set[str] = set()

    def add(self, row: Row, codec: str) -> None:
        sid, track, chunk, _, timestamp, arrival, _, jitter = row
        transit = arrival - timestamp * MS
        state = self.tracks.get((sid, track))
        if state is None:
            if sid not in self.streams:
                self.streams.add(sid)
                self.started[codec] = self.started.get(codec, 0) + 1
            state = self.tracks[(sid, track)] = [arrival, transit, 0]
        else:
            self._get("interarrival_ns", codec, track).record(arrival - state[0])
        state[0] = arrival
        if chunk > state[2]:
            self.due[(codec, track)] = (
                self.due.get((codec, track), 0) + chunk - state[2]
            )
            state[2] = chunk
        if jitter == jitter:
            self._get("jitter_ns", codec, track).record(int(jitter))
        self._get("transit_first_ns", codec, track).record(transit - state[1])

    def _get(self, *key: str) -> Histogram:
        return self.hist.setdefault((key[0], key[1], key[2]), Histogram())


class Flusher:
    """The receiver's flushes in miniature: sessions' rows into a MemorySink,
    folded a flush at a time, delivered to the live side, written as rows."""

    def __init__(self, producer: str = "receiver-3") -> None:
        self.sink = MemorySink()
        self.dist = Distributions(producer)
        self.codecs: dict[str, str] = {}
        self.ended: list[str] = []
        self._done = 0

    def feed(self, arrivals_ms: Sequence[float], **stream: object) -> str:
        """One stream (both tracks unless told); media message i arrives at ``arrivals_ms[i]``."""
        stream.setdefault("track", "both_tracks")
        per_track = 2 if stream["track"] == "both_tracks" else 1
        sid, messages = stream_messages(len(arrivals_ms) // per_track, **stream)  # type: ignore[arg-type]
        session = StreamSession(0)
        media = iter(arrivals_ms)
        for text in messages:
            at = int(next(media) * MS) if '"media"' in text else 0
            session.receive(text, at, self.sink)
        session.close(10_000 * MS, 1000, self.sink)
        self.codecs[sid] = session.codec
        self.ended.append(sid)
        return sid

    def flush(self) -> Taken:
        rows = self.sink.rows["frames"][self._done :]
        self._done += len(rows)
        taken = self.dist.fold(Frames.of_rows(rows), self.codecs, self.ended)
        self.ended = []
        self.dist.deliver(taken)
        for metric, codec, track, counts in taken.snapshot:
            for bucket, count in sorted(counts.items()):
                self.sink.add(
                    "histograms",
                    (self.dist.producer, metric, codec, track, bucket, count),
                )
        return taken

    def histogram(self, metric: str, codec: str, track: str) -> Histogram:
        """Every ``histograms`` row of (metric, codec, track) so far."""
        h = Histogram()
        h.add_counts(
            (r["bucket"], r["count"])
            for r in row_dicts(self.sink, "histograms")
            if (r["metric"], r["codec"], r["track"]) == (metric, codec, track)
        )
        return h


def test_each_track_gets_its_interarrival_jitter_and_transit() -> None:
    f = Flusher()
    # chunk k of both tracks at 20(k-1) ms + 1 ms, chunk 3 late by 7 ms
    arrivals = [a for k in range(1, 6) for a in [20 * (k - 1) + 1 + 7 * (k == 3)] * 2]
    f.feed(arrivals)
    f.flush()
    assert len(f.sink.rows["frames"]) == 10 and len(f.sink.rows["streams"]) == 1
    expected = Histogram()
    for gap in (20, 27, 13, 20):
        expected.record(gap * MS)
    assert f.histogram("interarrival_ns", "PCMU", "inbound") == expected
    transit = f.histogram("transit_first_ns", "PCMU", "outbound")
    # 0 and 7 ms: the 1-µs bucket at 0, the 4-µs bucket at 7 ms; at their middles
    assert transit.percentiles([0.0, 1.0]) == [500.0, 7_002_000.0]
    # five frames a track: all in the estimator's warm-up, none in its histogram
    assert f.histogram("jitter_ns", "PCMU", "inbound").total == 0


def test_jitter_counts_the_frames_past_the_warm_up() -> None:
    f = Flusher()
    chunks = WARMUP_FRAMES + 6
    f.feed([a for k in range(chunks) for a in [20 * k + (k * 7 % 5)] * 2])
    f.flush()
    want = Histogram()
    for r in row_dicts(f.sink, "frames"):
        if r["track"] == "inbound" and not math.isnan(r["jitter_ns"]):
            want.record(int(r["jitter_ns"]))
    jitter = f.histogram("jitter_ns", "PCMU", "inbound")
    assert jitter == want and jitter.total == 6
    assert (want.percentiles([1.0])[0] or 0) > 0


def test_each_flush_counts_only_its_own_frames() -> None:
    f = Flusher()
    first, second = WARMUP_FRAMES + 5, WARMUP_FRAMES + 3  # chunks per track
    f.feed([20.0 * (i // 2) for i in range(2 * first)])
    assert f.flush().snapshot
    f.feed([20.0 * (i // 2) + 3 for i in range(2 * second)])
    f.flush()
    rows = row_dicts(f.sink, "histograms")
    assert {r["producer"] for r in rows} == {"receiver-3"}
    assert {r["metric"] for r in rows} == set(METRICS)
    total = {
        m: sum(r["count"] for r in rows if r["metric"] == m and r["track"] == "inbound")
        for m in METRICS
    }
    assert total == {
        "interarrival_ns": first - 1 + second - 1,
        "jitter_ns": 5 + 3,  # past the warm-up
        "transit_first_ns": first + second,
    }
    assert f.flush().snapshot == []  # nothing new: nothing counted


# -- the fold against the oracle ------------------------------------------------


@st.composite
def flushes(draw: st.DrawFn) -> tuple[list[Row], list[int], dict[str, str]]:
    """Interleaved frames of a few streams and tracks, cut into flushes at random.

    Arrivals only grow per track (the loop stamps them so); chunks, timestamps
    and jitter are a peer's, anything within the records' int64 columns.
    """
    sids = [f"s{i}" for i in range(draw(st.integers(1, 4)))]
    codecs = {sid: draw(st.sampled_from(["PCMU", "L16@16000", ""])) for sid in sids}
    n = draw(st.integers(0, 120))
    now = draw(st.integers(0, 10**12))
    rows: list[Row] = []
    for _ in range(n):
        now += draw(st.integers(0, 5 * 10**9))
        jitter = draw(st.none() | st.floats(-1e12, 1e15, allow_nan=False))
        rows.append(
            (
                draw(st.sampled_from(sids)),
                draw(st.sampled_from(["inbound", "outbound"])),
                draw(st.integers(-5, 10**6)),
                0,
                draw(st.integers(-(10**12), 10**12)),
                now,
                160,
                math.nan if jitter is None else jitter,
            )
        )
    cuts = sorted(draw(st.lists(st.integers(0, n), max_size=5)))
    return rows, cuts, codecs


@given(flushes())
@settings(max_examples=200, deadline=None)
def test_the_fold_counts_what_the_frame_at_a_time_definition_counts(
    case: tuple[list[Row], list[int], dict[str, str]],
) -> None:
    rows, cuts, codecs = case
    oracle = Oracle()
    for row in rows:
        oracle.add(row, codecs[row[0]])
    dist = Distributions("rx")
    got: dict[tuple[str, str, str], Histogram] = {}
    taken = dist.fold(Frames.of_rows([]), codecs)
    for lo, hi in zip([0, *cuts], [*cuts, len(rows)], strict=True):
        taken = dist.fold(Frames.of_rows(rows[lo:hi]), codecs)
        for metric, codec, track, counts in taken.snapshot:
            got.setdefault((metric, codec, track), Histogram()).add_counts(
                counts.items()
            )
        # the live metrics come encoded too, as the loop would encode them
        assert taken.encoded == {
            (m, c, t): encode_counts(counts)
            for m, c, t, counts in taken.snapshot
            if m in LIVE_METRICS
        }
    want = {k: h for k, h in oracle.hist.items() if h.total}
    assert got == want
    assert {k: v for k, v in taken.due.items() if v} == {
        k: v for k, v in oracle.due.items() if v
    }
    assert taken.started == oracle.started


def test_frames_read_from_the_recorders_buffer_are_the_rows() -> None:
    rows: list[Row] = [
        ("s1", "inbound", 1, 1, 0, 5 * MS, 160, math.nan),
        ("s2", "outbound", 7, 9, 120, 6 * MS, 160, 12.5),
        ("s1", "inbound", 2, 2, 20, 25 * MS, 160, 3.0),
    ]
    buffer = ColumnBuffer("frames")
    for row in rows:
        buffer.add(row)
    a, b = Frames.of_buffer(buffer), Frames.of_rows(rows)
    assert [a.keys[k] for k in a.key] == [b.keys[k] for k in b.key]
    for field in ("chunk", "timestamp_ms", "arrival_ns", "jitter_ns"):
        assert np.array_equal(getattr(a, field), getattr(b, field), equal_nan=True)


def test_an_ended_stream_is_forgotten_and_its_sid_starts_afresh() -> None:
    row: Row = ("s1", "inbound", 1, 1, 0, 5 * MS, 160, math.nan)
    dist = Distributions("rx")
    first = dist.fold(Frames.of_rows([row]), {"s1": "PCMU"}, ended=["s1"])
    later = (*row[:5], 500 * MS, *row[6:])
    again = dist.fold(Frames.of_rows([later]), {"s1": "PCMU"})
    assert first.started == {"PCMU": 1} and again.started == {"PCMU": 2}
    # no interarrival across the two: the second is a first frame again
    assert [m for m, *_ in again.snapshot] == ["transit_first_ns"]


# -- what goes to the records and the live lines -------------------------------


def test_columns_built_on_the_writer_thread_are_the_rows(tmp_path: Path) -> None:
    """histogram_columns (the writer thread's) == the rows, one per bucket, in order."""
    f = Flusher("receiver-1")
    f.feed([20.0 * (i // 2) + (i % 7) * 0.37 for i in range(2 * (WARMUP_FRAMES + 20))])
    taken = f.flush()
    want = [tuple(r.values()) for r in row_dicts(f.sink, "histograms")]
    batch = Batch("frames")
    batch.defer("histograms", lambda: histogram_columns("receiver-1", taken.snapshot))
    batch.defer("histograms", list)  # an empty build writes no part
    batch.write(RecordSink(tmp_path, "receiver-1", "receiver"))
    parts = list((tmp_path / "records" / "histograms").iterdir())
    table = pq.read_table(tmp_path / "records" / "histograms")
    got = [tuple(r.values()) for r in table.to_pylist()]
    assert len(want) > 20 and got == want and len(parts) == 1


def test_distinct_keys_are_bounded_per_process() -> None:
    """Issue 13 item 8: invented codec and track names cannot grow the receiver."""
    dist = Distributions("rx")
    tracks = MAX_HISTOGRAMS // len(METRICS) + 500
    rows = [("s1", f"track-{i}", 1, 1, 0, MS, 160, math.nan) for i in range(tracks)]
    taken = dist.fold(Frames.of_rows(rows), {"s1": "PCMU"})
    keys = {(m, c, t) for m, c, t, _ in taken.snapshot}
    assert len(keys) <= MAX_HISTOGRAMS + len(METRICS)
    assert dist.overflowed == 500 * len(METRICS)  # each metric's histogram
    # a first frame each: transit counted, under one key (no interarrival yet)
    other = [n for m, c, t, n in taken.snapshot if (c, t) == (OVERFLOW, OVERFLOW)]
    assert len(other) == 1 and sum(other[0].values()) == 500
    assert len(taken.due) <= MAX_HISTOGRAMS + 1


def test_live_lines_sum_to_the_rows_across_flushes() -> None:
    """The stats lines' live objects, summed == every ``histograms`` row so far."""
    f = Flusher()
    first, second = WARMUP_FRAMES + 5, WARMUP_FRAMES + 3
    live = Live()
    f.feed([20.0 * (i // 2) for i in range(2 * first)])
    live.feed("r", f.dist.live([]))  # a line before the flush
    f.flush()
    f.feed([20.0 * (i // 2) + 3 for i in range(2 * second)])
    live.feed("r", f.dist.live(["PCMU", ""]))  # the second stream still open
    assert live.figures().codec("PCMU").streams_live == 1
    f.flush()
    live.feed("r", f.dist.live([]))  # after the last flush: only the rest
    assert live.gaps == 0 and live.tracks
    for (codec, track), totals in live.tracks.items():
        assert totals.transit == f.histogram("transit_first_ns", codec, track)
        assert totals.jitter == f.histogram("jitter_ns", codec, track)
        assert totals.frames == first + second and totals.lost == 0
    view = live.figures().codec("PCMU")
    assert (view.streams_live, view.streams_started) == (0, 2)
    empty = f.dist.live([])
    assert empty["tracks"] == {} and empty["started"] == {}


def test_live_counts_a_chunk_gap_as_lost() -> None:
    f = Flusher()
    _, messages = stream_messages(6)
    session = StreamSession(0)
    for i, text in enumerate(messages):
        if '"chunk":"3"' not in text.replace(" ", ""):
            session.receive(text, (i + 1) * 20 * MS, f.sink)
    f.codecs[session.stream_sid] = session.codec
    assert f.dist.live([])["tracks"] == {}  # nothing flushed yet: nothing live
    f.flush()
    view = merge([("r", f.dist.live([]))]).figures().codec("PCMU")
    assert (view.frames, view.lost) == (5, 1)
