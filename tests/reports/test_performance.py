"""reports.performance: exact media metrics from hand-built run directories."""

from __future__ import annotations

import random
import tempfile
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import given, settings, strategies as st

from harness.io.sink import RecordSink
from reports.load import load_run
from reports.performance import analyse
from tests.reports.helpers import MS, T0, RunBuilder


def codec(build: RunBuilder, name: str = "PCMU") -> dict[str, Any]:
    """Write the run, load it back, and return one codec's metrics."""
    return analyse(load_run(build.write())).codecs[name]


def test_loss_with_the_send_log_3_of_100_missing(tmp_path: Path) -> None:
    build = RunBuilder(tmp_path)
    build.good_stream("MZ1", "req-1")  # 50 frames, none lost
    build.media("MZ2", chunks=100, missing=(5, 6, 70))
    build.stream("MZ2", "req-2")
    pcmu = codec(build)

    assert pcmu["frames_sent"] == 150
    assert pcmu["frames"] == 147
    assert pcmu["frames_lost"] == 3
    assert pcmu["loss_ratio"] == 0.02  # 3 of 150 over both streams
    only = RunBuilder(tmp_path / "one")
    only.media("MZ2", chunks=100, missing=(5, 6, 70))
    only.stream("MZ2", "req-2")
    assert codec(only)["loss_ratio"] == 0.03


def test_duplicates_do_not_hide_loss(tmp_path: Path) -> None:
    """A frame received twice counts once toward delivery, once as a duplicate."""
    build = RunBuilder(tmp_path)
    build.media("MZ1", chunks=10, missing=(3,))
    build.frame("MZ1", "inbound", 4, T0 + 999 * MS)
    build.frame("MZ1", "inbound", 4, T0 + 999 * MS)
    build.stream("MZ1", "req-1")
    pcmu = codec(build)

    assert (pcmu["frames"], pcmu["duplicates"], pcmu["loss_ratio"]) == (11, 2, 0.1)


def test_latency_is_arrival_minus_sent_per_frame(tmp_path: Path) -> None:
    """Transits of 1, 2, 3, 4 ms: p50 2.5, p90 3.7, mean 2.5."""
    build = RunBuilder(tmp_path)
    build.stream("MZ1", "req-1")
    for chunk, transit_ms in zip(range(1, 5), (3, 1, 4, 2), strict=True):
        sent_ns = T0 + chunk * 20 * MS
        build.sent("MZ1", "inbound", chunk, sent_ns)
        build.frame("MZ1", "inbound", chunk, sent_ns + transit_ms * MS)
    latency = codec(build)["latency_ms"]

    assert latency == {
        "p50": 2.5,
        "p90": 3.7,
        "p95": 3.85,
        "p99": 3.97,
        "p999": 3.997,
        "max": 4.0,
        "min": 1.0,
        "mean": 2.5,
        "count": 4,
    }


def test_setup_first_media_and_stop_join_their_requests(tmp_path: Path) -> None:
    build = RunBuilder(tmp_path)
    build.request("req-1", sent_ns=T0, stream_sid="MZ1")
    build.request("req-2", sent_ns=T0 + 10 * MS, stream_sid="MZ2")
    build.request("stop-1", kind="stop", sent_ns=T0 + 4_000 * MS, stream_sid="MZ1")
    build.stream(
        "MZ1", "req-1", start_ns=T0 + 150 * MS, first_media_ns=T0 + 170 * MS,
        stop_ns=T0 + 4_030 * MS,
    )  # fmt: skip
    build.stream("MZ2", "req-2", start_ns=T0 + 260 * MS, first_media_ns=0, stop_ns=0)
    pcmu = codec(build)

    assert pcmu["setup_ms"]["count"] == 2
    assert (pcmu["setup_ms"]["min"], pcmu["setup_ms"]["max"]) == (150.0, 250.0)
    assert pcmu["setup_ms"]["p50"] == 200.0
    assert (pcmu["first_media_ms"]["count"], pcmu["first_media_ms"]["p50"]) == (
        1,
        170.0,
    )
    assert (pcmu["stop_ms"]["count"], pcmu["stop_ms"]["max"]) == (1, 30.0)
    assert pcmu["streams"] == 2


def test_without_a_send_log_loss_comes_from_chunk_gaps(tmp_path: Path) -> None:
    build = RunBuilder(tmp_path)
    build.media("MZ1", chunks=10, missing=(4, 5), log=False)
    build.stream("MZ1", "req-1")
    performance = analyse(load_run(build.write()))
    pcmu = performance.codecs["PCMU"]

    assert performance.basis == {"loss": "chunk-gaps", "latency": None}
    assert (pcmu["frames_sent"], pcmu["frames_lost"], pcmu["loss_ratio"]) == (
        None,
        2,
        0.2,
    )
    assert pcmu["latency_ms"]["count"] == 0
    assert pcmu["latency_ms"]["p99"] is None
    assert pcmu["transit_relative_ms"]["count"] == 8


def test_interarrival_reordering_and_relative_transit(tmp_path: Path) -> None:
    """Chunks 1, 3, 2, 4 arrive at 0, 20, 40, 70 ms (after the origin)."""
    build = RunBuilder(tmp_path)
    build.stream("MZ1", "req-1")
    for chunk, at_ms in ((1, 0), (3, 20), (2, 40), (4, 70)):
        build.frame("MZ1", "inbound", chunk, T0 + at_ms * MS)
    pcmu = codec(build)

    assert pcmu["interarrival_ms"]["count"] == 3
    assert (pcmu["interarrival_ms"]["p50"], pcmu["interarrival_ms"]["max"]) == (
        20.0,
        30.0,
    )
    assert pcmu["reordered"] == 1
    # arrival - (chunk x 20 ms): 0-20, 20-60, 40-40, 70-80 -> above the fastest (-40).
    relative = pcmu["transit_relative_ms"]
    assert (relative["min"], relative["max"], relative["p50"]) == (0.0, 40.0, 25.0)


def test_throughput_over_the_active_span(tmp_path: Path) -> None:
    """51 frames 20 ms apart span exactly one second."""
    build = RunBuilder(tmp_path)
    build.stream("MZ1", "req-1")
    build.media("MZ1", chunks=51)
    throughput = codec(build)["throughput"]

    assert throughput == {
        "active_s": 1.0,
        "frames_per_s": 51.0,
        "bytes_per_s": 51.0 * 160,
        "realtime_factor": 1.02,
    }


def test_jitter_comes_from_the_receivers_estimate(tmp_path: Path) -> None:
    build = RunBuilder(tmp_path)
    build.stream("MZ1", "req-1")
    for chunk, jitter in enumerate((0.0, 500_000.0, 1_500_000.0), start=1):
        build.frame("MZ1", "inbound", chunk, T0 + chunk * 20 * MS, jitter_ns=jitter)
    jitter_ms = codec(build)["jitter_ms"]

    assert (jitter_ms["p50"], jitter_ms["max"], jitter_ms["mean"]) == (0.5, 1.5, 0.667)


def test_codecs_and_tracks_are_split(tmp_path: Path) -> None:
    build = RunBuilder(tmp_path)
    build.good_stream("MZ1", "req-1", codec="PCMU")
    build.request("req-2", stream_sid="MZ2", codec="L16")
    build.stream("MZ2", "req-2", codec="L16")
    build.media("MZ2", track="inbound", chunks=10, missing=(2,))
    build.media("MZ2", track="outbound", chunks=20, latency_ns=5 * MS)
    performance = analyse(load_run(build.write()))

    assert sorted(performance.codecs) == ["L16", "PCMU"]
    l16 = performance.codecs["L16"]
    assert (l16["streams"], l16["frames"], l16["frames_sent"]) == (1, 29, 30)
    assert l16["loss_ratio"] == round(1 / 30, 6)
    assert sorted(performance.tracks["L16"]) == ["inbound", "outbound"]
    outbound = performance.tracks["L16"]["outbound"]
    assert (outbound["streams"], outbound["frames"], outbound["loss_ratio"]) == (
        1,
        20,
        0.0,
    )
    assert outbound["latency_ms"]["p50"] == 5.0
    assert performance.tracks["L16"]["inbound"]["loss_ratio"] == 0.1
    assert list(performance.tracks["PCMU"]) == ["inbound"]


def test_a_stream_nothing_arrived_from_is_total_loss(tmp_path: Path) -> None:
    build = RunBuilder(tmp_path)
    build.request("req-1", stream_sid="MZ1", codec="PCMA")
    build.platform_stream("MZ1", "req-1", codec="PCMA", frames_sent=5)
    for chunk in range(1, 6):
        build.sent("MZ1", "inbound", chunk, T0 + chunk * 20 * MS)
    pcma = codec(build, "PCMA")

    assert (pcma["streams"], pcma["frames"], pcma["frames_sent"]) == (0, 0, 5)
    assert pcma["loss_ratio"] == 1.0
    assert pcma["throughput"]["frames_per_s"] is None


def test_frames_of_an_unnamed_stream_go_under_unknown(tmp_path: Path) -> None:
    build = RunBuilder(tmp_path)
    build.good_stream("MZ1", "req-1")
    build.frame("MZ-stray", "inbound", 1, T0)
    performance = analyse(load_run(build.write()))

    assert sorted(performance.codecs) == ["PCMU", "unknown"]
    assert performance.codecs["unknown"]["frames"] == 1
    assert performance.codecs["unknown"]["streams"] == 1


def test_a_run_with_no_media_has_no_codecs(tmp_path: Path) -> None:
    build = RunBuilder(tmp_path)
    build.request("req-1", status=500)
    performance = analyse(load_run(build.write()))

    assert performance.codecs == {}
    assert performance.tracks == {}
    assert performance.basis == {"loss": None, "latency": None}
    assert performance.plots.latency_percentiles == {}
    assert performance.plots.latency_over_time == {}
    assert performance.plots.codec_bars == {}
    assert performance.plots.setup_counts == {}


def test_plot_series_are_downsampled(tmp_path: Path) -> None:
    build = RunBuilder(tmp_path)
    build.good_stream("MZ1", "req-1")
    plots = analyse(load_run(build.write())).plots

    ms, qs = plots.latency_percentiles["PCMU"]
    assert len(ms) == len(qs) < 120
    # 50 frames tell percentiles apart up to 1 - 1/50 (beyond: the max alone)
    assert qs[0] == 0.0 and 0.97 < qs[-1] <= 0.98 and ms[0] == 1.0
    assert plots.time_bin_s == 1.0
    starts, p50, p99 = plots.latency_over_time["PCMU"]
    # from the first request (T0) to the first frame's second; 1 ms in its bucket
    assert starts == [0.121] and p50 == p99 and abs(p99[0] - 1.0) < 0.03
    assert plots.codec_bars["PCMU"]["latency_ms.p99"] == 1.0
    assert sum(plots.setup_counts["PCMU"]) == 1
    assert len(plots.setup_edges_ms) == 31


def _pcmu(sent: int, received: list[int], log: bool) -> dict[str, Any]:
    """PCMU metrics of one track: chunks 1..sent logged, ``received`` in that order."""
    with tempfile.TemporaryDirectory() as root:
        build = RunBuilder(Path(root))
        build.stream("MZ1", "req-1")
        if log:
            for chunk in range(1, sent + 1):
                build.sent("MZ1", "inbound", chunk, T0 + chunk * 20 * MS)
        for i, chunk in enumerate(received):
            build.frame("MZ1", "inbound", chunk, T0 + i * 20 * MS)
        return codec(build)


chunk_lists = st.integers(1, 60).flatmap(
    lambda n: st.tuples(
        st.just(n),
        st.lists(st.integers(1, n), max_size=2 * n),
        st.randoms(use_true_random=False),
    )
)


@settings(max_examples=25, deadline=None)
@given(chunk_lists)
def test_loss_and_duplicates_match_a_set_count(
    case: tuple[int, list[int], random.Random],
) -> None:
    """With a send log: loss = 1 - |distinct received| / sent, in any arrival order."""
    sent, received, rng = case
    rng.shuffle(received)
    pcmu = _pcmu(sent, received, log=True)

    assert pcmu["loss_ratio"] == round(1 - len(set(received)) / sent, 6)
    assert pcmu["duplicates"] == len(received) - len(set(received))
    assert pcmu["frames_lost"] == sent - len(set(received))


@settings(max_examples=25, deadline=None)
@given(chunk_lists)
def test_gap_loss_matches_a_set_count(
    case: tuple[int, list[int], random.Random],
) -> None:
    """Without a send log: missing = highest chunk - distinct chunks received."""
    _, received, rng = case
    rng.shuffle(received)
    pcmu = _pcmu(0, received, log=False)

    if not received:
        assert pcmu["loss_ratio"] is None
        return
    highest = max(received)
    assert pcmu["frames_lost"] == highest - len(set(received))
    assert pcmu["loss_ratio"] == round((highest - len(set(received))) / highest, 6)


def test_frames_with_a_chunk_below_1_count_but_take_no_part_in_loss(
    tmp_path: Path,
) -> None:
    build = RunBuilder(tmp_path)
    build.stream("MZ1", "req-1")
    build.media("MZ1", chunks=10)
    build.frame("MZ1", "inbound", 0, T0 + 500 * MS)
    build.frame("MZ1", "inbound", -1, T0 + 501 * MS)
    pcmu = codec(build)

    assert (pcmu["frames"], pcmu["duplicates"], pcmu["loss_ratio"]) == (12, 0, 0.0)
    assert pcmu["latency_ms"]["count"] == 10


def _on_another_host(run: Path, producer: str, host: str, mono_shift: int) -> None:
    """Rewrite ``producer``'s anchor as if it ran on ``host``, whose monotonic clock
    reads ``mono_shift`` more than this one's at the same wall instant."""
    for part in (run / "records" / "producers").glob(f"{producer}-*.parquet"):
        rows = pq.read_table(part).to_pylist()
        for row in rows:
            row.update(host=host, mono_ns=row["mono_ns"] + mono_shift)
        pq.write_table(pa.Table.from_pylist(rows, pq.read_schema(part)), part)


def _receiver_on_another_host(tmp_path: Path, shift: int) -> Path:
    """One good stream, 1 ms transit, the receiver's clock ``shift`` ahead."""
    build = RunBuilder(tmp_path)
    build.request("req-1", stream_sid="MZ1")
    build.platform_stream("MZ1", "req-1", frames_sent=50)
    build.stream(
        "MZ1",
        "req-1",
        start_ns=T0 + 50 * MS + shift,
        first_media_ns=T0 + 121 * MS + shift,
        stop_ns=T0 + 5_000 * MS + shift,
    )
    for chunk in range(1, 51):
        sent_ns = T0 + 120 * MS + (chunk - 1) * 20 * MS
        build.sent("MZ1", "inbound", chunk, sent_ns)
        build.frame("MZ1", "inbound", chunk, sent_ns + MS + shift)
    run = build.write()
    _on_another_host(run, "receiver-1", "rx-elsewhere", shift)
    return run


def test_clocks_of_several_hosts_are_aligned_by_their_wall_clocks(
    tmp_path: Path,
) -> None:
    """The receiver's monotonic clock is an hour ahead of the platform's: through
    both anchors the transit is still 1 ms (the anchors' own reads, taken
    microseconds apart, are the only error here)."""
    hour = 3600 * 10**9
    performance = analyse(load_run(_receiver_on_another_host(tmp_path, hour)))

    assert performance.basis["latency"] == (
        "send-log; clocks of 2 hosts aligned by their wall clocks: "
        "as accurate as their sync (NTP/PTP)"
    )
    latency = performance.codecs["PCMU"]["latency_ms"]
    assert latency["count"] == 50
    assert abs(latency["p50"] - 1.0) < 0.5, latency
    assert abs(performance.codecs["PCMU"]["setup_ms"]["p50"] - 50.0) < 0.5


def test_a_host_without_a_clock_anchor_gets_no_latency(tmp_path: Path) -> None:
    """Receiver parts of a producer with no anchor row: latency not checked, with
    the reason, never the raw difference of two hosts' clocks."""
    run = _receiver_on_another_host(tmp_path, 3600 * 10**9)
    second = RecordSink(run, "receiver-2", "receiver")
    second.add("frames", ("MZ1", "inbound", 51, 0, 0, T0, 160, float("nan")))
    second.flush()
    (run / "records" / "producers" / "receiver-2-000001.parquet").unlink()
    performance = analyse(load_run(run))

    assert performance.basis["latency"] == (
        "not checked: clocks of 2 hosts, and no clock anchor (producers row) "
        "for receiver-2"
    )
    assert performance.codecs["PCMU"]["latency_ms"]["count"] == 0
    assert performance.codecs["PCMU"]["frames"] == 51


def test_streams_count_under_the_codec_their_request_asked_for(tmp_path: Path) -> None:
    """A platform that streams PCMU when asked for PCMA is reported under PCMA."""
    build = RunBuilder(tmp_path)
    build.request("req-1", stream_sid="MZ1", codec="PCMA")
    build.stream("MZ1", "req-1", codec="PCMU")
    build.media("MZ1", chunks=5)
    performance = analyse(load_run(build.write()))

    assert list(performance.codecs) == ["PCMA"]
    assert performance.codecs["PCMA"]["frames"] == 5
    assert performance.codecs["PCMA"]["setup_ms"]["count"] == 1


def test_lateness_is_against_the_platforms_schedule(tmp_path: Path) -> None:
    """First media due at T0; chunk k due at T0 + 20(k-1) ms; sent 2 ms late, 1 ms transit."""
    build = RunBuilder(tmp_path)
    build.platform_stream("MZ1", "req-1", frames_sent=4, first_due_ns=T0)
    build.stream("MZ1", "req-1")
    build.media("MZ1", chunks=4, first_ns=T0 + 2 * MS, latency_ns=MS)
    build.frame("MZ1", "inbound", 5, T0 + 4 * 20 * MS + 9 * MS)  # not in the send log
    build.stream("MZ2", "req-2")  # no schedule for this one: no lateness
    build.media("MZ2", chunks=3, latency_ns=MS)
    pcmu = codec(build)

    lateness = pcmu["lateness_ms"]
    assert (lateness["count"], lateness["min"], lateness["max"]) == (5, 3.0, 9.0)
    assert pcmu["latency_ms"]["max"] == 1.0  # transit excludes the sender's lateness


def test_loss_bursts_from_the_send_log_and_from_gaps(tmp_path: Path) -> None:
    build = RunBuilder(tmp_path)
    build.stream("MZ1", "req-1")
    build.media("MZ1", chunks=30, missing=(3, 4, 5, 9, 20, 21, 30))
    logged = codec(build)["loss_bursts"]
    assert logged == {"count": 4, "longest": 3}  # 3-5, 9, 20-21 and the tail 30

    build = RunBuilder(tmp_path / "nolog")
    build.stream("MZ1", "req-1")
    build.media("MZ1", chunks=30, missing=(1, 3, 4, 5, 9, 30), log=False)
    gaps = codec(build)["loss_bursts"]
    assert gaps == {"count": 3, "longest": 3}  # 1, 3-5, 9 (a lost tail is invisible)


def test_per_stream_duration_size_and_real_time_factor(tmp_path: Path) -> None:
    build = RunBuilder(tmp_path)
    build.receiver.add(
        "streams",
        ("MZ1", "run-1", "req-1", "PCMU", "both_tracks", 0, T0, T0 + 100 * MS,
         T0 + 120 * MS, T0 + 2_120 * MS, T0 + 2_200 * MS, 200, 32_000, 0, 1000,
         "", "", "", "", ""),
    )  # fmt: skip  # 100 frames a track = 2 s of media over 2 s: real time
    build.receiver.add(
        "streams",
        ("MZ2", "run-1", "req-2", "PCMU", "inbound_track", 0, T0, T0 + 100 * MS,
         T0 + 120 * MS, 0, T0 + 4_120 * MS, 100, 16_000, 0, 1006,
         "", "", "", "", ""),
    )  # fmt: skip  # no stop: up to the close; 2 s of media over 4 s
    pcmu = codec(build)

    assert (
        pcmu["duration_ms"]["min"] == 2_020.0 and pcmu["duration_ms"]["max"] == 4_020.0
    )
    assert (pcmu["stream_frames"]["min"], pcmu["stream_frames"]["max"]) == (100, 200)
    assert pcmu["stream_bytes"]["p50"] == 24_000.0
    rtf = pcmu["realtime_factor"]
    assert (rtf["min"], rtf["max"], rtf["count"]) == (0.5, 1.0, 2)


def test_the_summary_carries_the_harness_and_receiver_histograms(
    tmp_path: Path,
) -> None:
    build = RunBuilder(tmp_path)
    build.good_stream("MZ1", "req-1")
    build.receiver.add(
        "histograms", ("receiver-1", "interarrival_ns", "PCMU", "inbound", 20_000, 7)
    )
    performance = analyse(load_run(build.write()))
    assert performance.harness["saturated"] is False
    assert performance.harness["pacing_ms"]["count"] == 50
    got = performance.receiver_histograms["PCMU"]["inbound"]["interarrival_ms"]
    assert got["count"] == 7
