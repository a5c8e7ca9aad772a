"""reports.frames: the per-frame kernel, against naive per-row references."""

from __future__ import annotations

import os
import random
import tempfile
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
from hypothesis import given, settings, strategies as st

from harness.io.sink import RecordSink
from reports.frames import UNKNOWN, FrameFacts, _unique_first
from reports.load import load_run
from reports.partition import Limits
from reports.performance import stream_codecs
from reports.samples import Samples
from reports.summary import Report, build_report
from tests.reports.helpers import DEFAULT_THRESHOLDS, MS, T0, RunBuilder


def test_unique_first_keeps_the_first_occurrence() -> None:
    keys, first = _unique_first(np.array([5, 3, 5, 1, 3], np.int64))
    assert keys.tolist() == [1, 3, 5]
    assert first.tolist() == [3, 1, 0]


def facts(build: RunBuilder) -> FrameFacts:
    run = load_run(build.write())
    sid_codec = stream_codecs(run)
    return FrameFacts(run, sid_codec, [*sorted(set(sid_codec)), UNKNOWN])


arrivals = st.lists(st.integers(1, 30), min_size=1, max_size=40).flatmap(
    lambda chunks: st.tuples(st.just(chunks), st.randoms(use_true_random=False))
)


@settings(max_examples=25, deadline=None)
@given(arrivals)
def test_reordering_and_gaps_match_a_row_by_row_walk(
    case: tuple[list[int], random.Random],
) -> None:
    """Chunks arrive 20 ms apart in a random order, on two tracks."""
    chunks, rng = case
    rng.shuffle(chunks)
    with tempfile.TemporaryDirectory() as root:
        build = RunBuilder(Path(root))
        build.stream("MZ1", "req-1")
        for track, order in (("inbound", chunks), ("outbound", sorted(chunks))):
            for i, chunk in enumerate(order):
                build.frame("MZ1", track, chunk, T0 + i * 20 * MS)
        got = facts(build)

    def late(order: list[int]) -> int:
        seen, count = 0, 0
        for chunk in order:
            count += chunk < seen
            seen = max(seen, chunk)
        return count

    assert int(got.reordered.sum()) == late(chunks)
    inbound = got.track_names.index("inbound")
    pcmu = got.codecs.index("PCMU") * got.n_names
    assert got.reordered[pcmu + got.track_names.index("outbound")] == 0
    gaps = got.dists["interarrival_ms"][pcmu + inbound]
    assert gaps["count"] == len(chunks) - 1
    if len(chunks) > 1:
        assert gaps["max"] == gaps["min"] == 20.0


def test_warmup_frames_are_counted_and_left_out_of_jitter() -> None:
    """A NaN estimate is a warm-up frame: counted per track and codec, not a value."""
    nan = float("nan")
    with tempfile.TemporaryDirectory() as root:
        build = RunBuilder(Path(root))
        build.stream("MZ1", "req-1")
        build.stream("MZ2", "req-2")
        for chunk in range(1, 6):  # MZ1: 3 warm-up frames, then 2 ms and 4 ms
            value = nan if chunk <= 3 else (chunk - 3) * 2.0 * MS
            build.frame("MZ1", "inbound", chunk, T0 + chunk * 20 * MS, jitter_ns=value)
        for chunk in range(1, 3):  # MZ2: a short stream, every frame warm-up
            build.frame("MZ2", "outbound", chunk, T0 + chunk * 20 * MS, jitter_ns=nan)
        got = facts(build)
    pcmu = got.codecs.index("PCMU")
    codec = got.codec_metrics(pcmu)["jitter_ms"]
    assert (codec["count"], codec["warmup_frames"]) == (2, 5)
    assert (codec["min"], codec["max"]) == (2.0, 4.0)
    inbound = got.track_metrics(pcmu * got.n_names + got.track_names.index("inbound"))
    outbound = got.track_metrics(pcmu * got.n_names + got.track_names.index("outbound"))
    assert (inbound["jitter_ms"]["count"], inbound["jitter_ms"]["warmup_frames"]) == (
        2,
        3,
    )
    assert outbound["jitter_ms"]["count"] == 0 and outbound["jitter_ms"]["p99"] is None
    assert outbound["jitter_ms"]["warmup_frames"] == 2


def naive_bursts(missing: set[int], upto: int) -> tuple[int, int]:
    """Runs of consecutive missing chunks in 1..upto, counted one by one."""
    count = longest = run = 0
    for chunk in range(1, upto + 1):
        run = run + 1 if chunk in missing else 0
        count += run == 1
        longest = max(longest, run)
    return count, longest


@settings(max_examples=25, deadline=None)
@given(st.integers(2, 60), st.sets(st.integers(1, 60)), st.booleans())
def test_loss_bursts_match_a_chunk_by_chunk_count(
    chunks: int, missing: set[int], log: bool
) -> None:
    lost = {c for c in missing if c <= chunks}
    if len(lost) == chunks:
        lost.discard(chunks)
    with tempfile.TemporaryDirectory() as root:
        build = RunBuilder(Path(root))
        build.stream("MZ1", "req-1")
        build.media("MZ1", chunks=chunks, missing=lost, log=log)
        got = facts(build)
    pcmu = got.codecs.index("PCMU") * got.n_names + got.track_names.index("inbound")
    # without a send log the tail after the last received chunk is invisible
    seen = chunks if log else max(c for c in range(1, chunks + 1) if c not in lost)
    count, longest = naive_bursts(lost, seen)
    metrics = got.track_metrics(pcmu)["loss_bursts"]
    assert (metrics["count"], metrics["longest"]) == (count, longest)


Frame = tuple[str, str, int, int, float]
"""sid, track, chunk, arrival offset in µs, jitter in ns."""


@st.composite
def runs(draw: st.DrawFn) -> dict[str, Any]:
    """A small run: streams of several codecs and tracks, with loss, duplicates,
    reordering, stray frames, two receivers, with or without a send log."""
    log = draw(st.booleans())
    streams: list[dict[str, Any]] = []
    for i in range(draw(st.integers(1, 4))):
        tracks = draw(
            st.lists(st.sampled_from(["inbound", "outbound"]), min_size=1, unique=True)
        )
        streams.append(
            {
                "sid": f"MZ{i}",
                "codec": draw(st.sampled_from(["PCMU", "PCMA", "L16"])),
                "tracks": tracks,
                "chunks": draw(st.integers(1, 25)),
                "scheduled": log and draw(st.booleans()),
                "requested": draw(st.booleans()),
            }
        )
    received: list[Frame] = []
    sent: list[tuple[str, str, int, int]] = []
    for stream in streams:
        for track in stream["tracks"]:
            chunks = list(range(1, stream["chunks"] + 1))
            sent += [(stream["sid"], track, c, c * 20_000) for c in chunks]
            kept = [c for c in chunks if draw(st.integers(0, 9))]  # ~10 % lost
            kept += draw(st.lists(st.sampled_from(chunks), max_size=3))  # duplicates
            order = draw(st.permutations(kept)) if draw(st.booleans()) else kept
            for c in order:
                late_us = draw(st.integers(0, 5_000))
                jitter = draw(st.one_of(st.floats(0, 1e7), st.just(float("nan"))))
                received.append((stream["sid"], track, c, c * 20_000 + late_us, jitter))
    received += draw(
        st.lists(
            st.tuples(
                st.sampled_from(["MZ-stray", "MZ0"]),
                st.sampled_from(["inbound", "outbound", "odd"]),
                st.integers(-1, 30),
                st.integers(0, 600_000),
                st.floats(0, 1e7),
            ),
            max_size=4,
        )
    )
    return {"log": log, "streams": streams, "sent": sent, "received": received}


def write(root: Path, case: dict[str, Any], batch_rows: int) -> Path:
    build = RunBuilder(root, batch_rows=batch_rows)
    other = RecordSink(root, "receiver-2", "receiver", batch_rows=batch_rows)
    for s in case["streams"]:
        request = f"req-{s['sid']}"
        if s["requested"]:
            build.request(request, stream_sid=s["sid"], codec=s["codec"])
        if s["scheduled"]:
            build.platform_stream(s["sid"], request, codec=s["codec"])
        build.stream(s["sid"], request, codec=s["codec"])
    if case["log"]:
        for sid, track, chunk, at_us in case["sent"]:
            build.sent(sid, track, chunk, T0 + at_us * 1000)
    for i, (sid, track, chunk, at_us, jitter) in enumerate(case["received"]):
        row = (sid, track, chunk, chunk, 0, T0 + at_us * 1000 + MS, 160, jitter)
        (build.receiver if i % 3 else other).add("frames", row)
    other.flush()
    return build.write()


def report(root: Path, limits: Limits) -> Report:
    env = {
        "STREAMLOAD_REPORT_PIECE_ROWS": str(limits.piece_rows),
        "STREAMLOAD_REPORT_SAMPLE_BYTES": str(limits.sample_bytes),
    }
    with mock.patch.dict(os.environ, env):
        return build_report(load_run(root), DEFAULT_THRESHOLDS)


@settings(max_examples=40, deadline=None)
@given(runs(), st.integers(1, 40), st.sampled_from([1, 64, 4096]), st.integers(3, 50))
def test_pieces_and_spilled_samples_give_the_same_report(
    case: dict[str, Any], piece_rows: int, sample_bytes: int, batch_rows: int
) -> None:
    """The proof that cutting a run changes nothing: a run cut into many pieces,
    its distributions spilled to disk, reports exactly what one piece reports."""
    with tempfile.TemporaryDirectory() as tmp:
        root = write(Path(tmp), case, batch_rows)
        whole = report(root, Limits(piece_rows=10**9, sample_bytes=1 << 30))
        cut = report(root, Limits(piece_rows=piece_rows, sample_bytes=sample_bytes))
    assert cut.summary == whole.summary
    assert cut.plots == whole.plots


def test_a_cut_run_really_is_cut_and_spilled(tmp_path: Path) -> None:
    build = RunBuilder(tmp_path, batch_rows=7)
    for i in range(6):
        build.good_stream(f"MZ{i}", f"req-{i}", codec=("PCMU", "L16")[i % 2])
    run = load_run(build.write())
    sid_codec = stream_codecs(run)
    codecs = [*sorted(set(sid_codec)), UNKNOWN]
    spills: list[int] = []
    original = Samples.spill

    def counted(self: Samples) -> None:
        spills.append(1)
        original(self)

    with mock.patch.object(Samples, "spill", counted):
        cut = FrameFacts(run, sid_codec, codecs, Limits(piece_rows=50, sample_bytes=8))
    whole = FrameFacts(run, sid_codec, codecs, Limits(piece_rows=10**6))
    assert len(spills) > 10
    assert cut.dists == whole.dists and cut.codec_dists == whole.codec_dists
    assert cut.cdf == whole.cdf and cut.pacing == whole.pacing
    assert (cut.frames == whole.frames).all() and (cut.sent == whole.sent).all()
    assert (
        cut.sids_with_frames == whole.sids_with_frames == [f"MZ{i}" for i in range(6)]
    )
