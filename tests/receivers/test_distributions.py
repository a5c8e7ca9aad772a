"""receivers.distributions: the frame tap's histograms against the frame rows."""

from __future__ import annotations

import math
from collections.abc import Sequence

from harness.core.histogram import Histogram
from harness.core.live import Live, merge
from harness.core.metrics.jitter import WARMUP_FRAMES
from harness.core.records import MemorySink
from harness.core.session import StreamSession
from receivers.distributions import (
    MAX_HISTOGRAMS,
    METRICS,
    OVERFLOW,
    Distributions,
    FrameTap,
)
from tests.receivers.helpers import row_dicts, stream_messages


MS = 1_000_000


def feed(sink: MemorySink, dist: Distributions, arrivals_ms: Sequence[float]) -> str:
    """One both-track stream; media message i arrives at ``arrivals_ms[i]``."""
    sid, messages = stream_messages(len(arrivals_ms) // 2, track="both_tracks")
    session = StreamSession(0)
    tap = FrameTap(sink, dist, session)
    media = iter(arrivals_ms)
    for text in messages:
        at = int(next(media) * MS) if '"media"' in text else 0
        session.receive(text, at, tap)
    session.close(10_000 * MS, 1000, tap)
    return sid


def test_each_track_gets_its_interarrival_jitter_and_transit() -> None:
    sink, dist = MemorySink(), Distributions("receiver-3")
    # chunk k of both tracks at 20(k-1) ms + 1 ms, chunk 3 late by 7 ms
    arrivals = [a for k in range(1, 6) for a in [20 * (k - 1) + 1 + 7 * (k == 3)] * 2]
    feed(sink, dist, arrivals)
    frames = row_dicts(sink, "frames")
    assert len(frames) == 10 and len(sink.rows["streams"]) == 1  # all passed on

    inbound = dist.get("interarrival_ns", "PCMU", "inbound")
    expected = Histogram()
    for gap in (20, 27, 13, 20):
        expected.record(gap * MS)
    assert inbound == expected
    transit = dist.get("transit_first_ns", "PCMU", "outbound")
    # 0 and 7 ms: the 1-µs bucket at 0, the 4-µs bucket at 7 ms; at their middles
    assert transit.percentiles([0.0, 1.0]) == [500.0, 7_002_000.0]
    # five frames a track: all in the estimator's warm-up, none in its histogram
    assert dist.get("jitter_ns", "PCMU", "inbound").total == 0


def test_jitter_counts_the_frames_past_the_warm_up() -> None:
    sink, dist = MemorySink(), Distributions("receiver-3")
    chunks = WARMUP_FRAMES + 6
    arrivals = [a for k in range(chunks) for a in [20 * k + (k * 7 % 5)] * 2]
    feed(sink, dist, arrivals)
    jitter = dist.get("jitter_ns", "PCMU", "inbound")
    want = Histogram()
    for r in row_dicts(sink, "frames"):
        if r["track"] == "inbound" and not math.isnan(r["jitter_ns"]):
            want.record(int(r["jitter_ns"]))
    assert jitter == want and jitter.total == 6
    assert (want.percentiles([1.0])[0] or 0) > 0


def test_drain_writes_deltas_that_sum_to_the_whole() -> None:
    sink, dist = MemorySink(), Distributions("receiver-3")
    first, second = WARMUP_FRAMES + 5, WARMUP_FRAMES + 3  # chunks per track
    feed(sink, dist, [20.0 * (i // 2) for i in range(2 * first)])
    assert dist.drain(sink) > 0
    feed(sink, dist, [20.0 * (i // 2) + 3 for i in range(2 * second)])
    dist.drain(sink)
    rows = row_dicts(sink, "histograms")
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
    assert dist.drain(sink) == 0


def test_columns_built_off_the_loop_are_the_rows_drain_writes(tmp_path) -> None:
    """take() + histogram_columns on the writer thread == drain() row by row."""
    import pyarrow.parquet as pq

    from harness.io.sink import Batch, RecordSink
    from receivers.distributions import histogram_columns

    arrivals = [
        20.0 * (i // 2) + (i % 7) * 0.37 for i in range(2 * (WARMUP_FRAMES + 20))
    ]
    row_sink, row_dist = MemorySink(), Distributions("receiver-1")
    feed(row_sink, row_dist, arrivals)
    row_dist.drain(row_sink)
    want = [tuple(r.values()) for r in row_dicts(row_sink, "histograms")]

    col_sink, col_dist = MemorySink(), Distributions("receiver-1")
    feed(col_sink, col_dist, arrivals)
    snapshot = col_dist.take()
    assert col_dist.take() == []  # taken: the next flush starts from zero
    batch = Batch("frames")
    batch.defer("histograms", lambda: histogram_columns("receiver-1", snapshot))
    batch.write(RecordSink(tmp_path, "receiver-1", "receiver"))
    table = pq.read_table(tmp_path / "records" / "histograms")
    got = [tuple(r.values()) for r in table.to_pylist()]
    assert len(want) > 20 and got == want


def test_distinct_keys_are_bounded_per_process() -> None:
    """Issue 13 item 8: invented codec and track names cannot grow the receiver."""
    dist = Distributions("rx")
    for i in range(MAX_HISTOGRAMS + 500):
        dist.get("jitter_ns", "PCMU", f"track-{i}").record(1)
    assert len(dist.histograms) <= MAX_HISTOGRAMS + len(METRICS)
    assert dist.overflowed == 500
    other = dist.histograms[("jitter_ns", OVERFLOW, OVERFLOW)]
    assert sum(other.counts.values()) == 500  # counted, under one key


def test_live_lines_sum_to_the_rows_across_flushes() -> None:
    """The stats lines' live objects, summed == every ``histograms`` row so far."""
    sink, dist = MemorySink(), Distributions("receiver-3")
    first, second = WARMUP_FRAMES + 5, WARMUP_FRAMES + 3
    live = Live()
    feed(sink, dist, [20.0 * (i // 2) for i in range(2 * first)])
    live.feed("r", dist.live([]))  # a line before the flush
    dist.drain(sink)
    feed(sink, dist, [20.0 * (i // 2) + 3 for i in range(2 * second)])
    live.feed("r", dist.live(["PCMU", ""]))  # the second stream still open
    assert live.figures().codec("PCMU").streams_live == 1
    dist.drain(sink)
    live.feed("r", dist.live([]))  # after the last flush: only the rest
    rows = row_dicts(sink, "histograms")
    assert live.gaps == 0 and live.tracks
    for (codec, track), totals in live.tracks.items():
        for metric, histogram in (
            ("transit_first_ns", totals.transit),
            ("jitter_ns", totals.jitter),
        ):
            expected = Histogram()
            expected.add_counts(
                (r["bucket"], r["count"])
                for r in rows
                if (r["metric"], r["codec"], r["track"]) == (metric, codec, track)
            )
            assert histogram == expected
        assert totals.frames == first + second and totals.lost == 0
    view = live.figures().codec("PCMU")
    assert (view.streams_live, view.streams_started) == (0, 2)
    empty = dist.live([])
    assert empty["tracks"] == {} and empty["started"] == {}


def test_live_counts_a_chunk_gap_as_lost() -> None:
    sink, dist = MemorySink(), Distributions("receiver-3")
    _, messages = stream_messages(6)
    session = StreamSession(0)
    tap = FrameTap(sink, dist, session)
    for i, text in enumerate(messages):
        if '"chunk":"3"' not in text.replace(" ", ""):
            session.receive(text, (i + 1) * 20 * MS, tap)
    assert dist.live([])["tracks"] == {}  # nothing flushed yet: nothing live
    dist.take()  # a flush
    view = merge([("r", dist.live([]))]).figures().codec("PCMU")
    assert (view.frames, view.lost) == (5, 1)
