"""reports.health: the harness section and its saturated flag."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from harness.core.histogram import bucket_of
from reports.health import summarise_harness
from reports.load import load_run
from reports.stats import distribution
from tests.reports.helpers import MS, T0, RunBuilder, build_summary


NO_PACING = distribution(np.zeros(0, np.int64))


def health(
    build: RunBuilder,
    producer: str,
    seconds: int,
    *,
    loop_share: float,
    lag_ms: float = 0.5,
    kind: str = "receiver",
) -> None:
    """``seconds`` one-second health rows at a fixed loop CPU share and lag."""
    for i in range(seconds):
        build.receiver.add(
            "health",
            (producer, kind, T0 + (i + 1) * 1000 * MS, 1000 * MS,
             int(loop_share * 1.1 * 1000 * MS), int(loop_share * 1000 * MS),
             100, int(lag_ms * MS), int(lag_ms * 2 * MS), 2, MS, MS // 2, 100 * 2**20),
        )  # fmt: skip
        lag = (producer, "loop_lag_ns", "", "", bucket_of(int(lag_ms * MS)), 100)
        build.receiver.add("histograms", lag)


def test_a_run_that_kept_up(tmp_path: Path) -> None:
    build = RunBuilder(tmp_path)
    build.good_stream("MZ1", "req-1")
    health(build, "receiver-0-1", 10, loop_share=0.4)
    health(build, "receiver-0-2", 10, loop_share=0.6, lag_ms=1.0)
    summary = build_summary(load_run(build.write()))
    harness = summary["performance"]["harness"]

    assert (harness["saturated"], harness["reasons"], harness["measured"]) == (
        False, [], True,
    )  # fmt: skip
    one = harness["producers"]["receiver-0-2"]
    assert one["kind"] == "receiver" and one["samples"] == 10
    assert one["loop_cpu"] == {"p50": 0.6, "p90": 0.6, "max": 0.6}
    assert one["process_cpu"]["max"] == 0.66
    assert one["lag_ms"] == {"p99": 1.0, "max": 2.0}  # the 1-µs bucket at 1 ms
    assert one["gc"] == {"pauses": 20, "total_ms": 10.0, "max_ms": 0.5}
    assert one["rss_max_mb"] == 100.0
    assert harness["pacing_ms"]["count"] == 50  # good_stream's send log
    assert harness["limits"] == {
        "loop_cpu": 0.85,
        "lag_p99_ms": 5.0,
        "pacing_p99_ms": 5.0,
    }


def test_cpu_lag_and_pacing_each_mark_a_run_saturated(tmp_path: Path) -> None:
    build = RunBuilder(tmp_path)
    health(build, "receiver-0", 8, loop_share=0.95)
    health(build, "receiver-0", 2, loop_share=0.2)  # one busy stretch is 80 %
    health(build, "receiver-1", 10, loop_share=0.3, lag_ms=9.0)
    run = load_run(build.write())
    late = np.full(1000, 8 * MS, np.int64)
    harness = summarise_harness(run.health, run.histograms, distribution(late))

    assert harness["saturated"] is True
    assert harness["reasons"] == [
        "receiver-0: event-loop CPU p90 95% > 85% of a core",
        "receiver-1: event-loop lag p99 9.004 ms > 5 ms",
        "platform pacing p99 8.0 ms > 5 ms behind schedule",
    ]


def test_a_start_up_spike_alone_is_not_saturation(tmp_path: Path) -> None:
    build = RunBuilder(tmp_path)
    health(build, "receiver-0", 1, loop_share=0.99)
    health(build, "receiver-0", 19, loop_share=0.3)
    run = load_run(build.write())
    harness = summarise_harness(run.health, run.histograms, NO_PACING)
    assert harness["saturated"] is False
    assert harness["producers"]["receiver-0"]["loop_cpu"]["max"] == 0.99


def test_nothing_recorded(tmp_path: Path) -> None:
    run = load_run(RunBuilder(tmp_path).write())
    harness = summarise_harness(run.health, run.histograms, NO_PACING)
    assert (harness["measured"], harness["saturated"], harness["producers"]) == (
        False, False, {},
    )  # fmt: skip
