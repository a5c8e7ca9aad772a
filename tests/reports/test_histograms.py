"""reports.histograms: several producers' deltas merge into exact run-wide figures."""

from __future__ import annotations

import random
from pathlib import Path

import pandas as pd

from harness.core.histogram import Histogram
from reports.histograms import merged, summarise_histogram, summarise_histograms
from reports.load import load_run
from tests.reports.helpers import MS, RunBuilder


def test_producers_and_flushes_sum_to_one_histogram(tmp_path: Path) -> None:
    rng = random.Random(5)
    values = [rng.randrange(0, 40 * MS) for _ in range(3000)]
    build = RunBuilder(tmp_path)
    whole = Histogram()
    for i, part in enumerate((values[:1000], values[1000:1700], values[1700:])):
        h = Histogram()
        for v in part:
            h.record(v)
            whole.record(v)
        producer = f"receiver-0-{i % 2 + 1}"  # two processes, three flushes
        for bucket, count in h.items():
            build.receiver.add(
                "histograms", (producer, "jitter_ns", "PCMU", "inbound", bucket, count)
            )
    build.receiver.add("histograms", ("receiver-0-1", "loop_lag_ns", "", "", 3, 9))
    run = load_run(build.write())

    got = merged(run.histograms)
    assert got[("jitter_ns", "PCMU", "inbound")] == whole
    assert got[("loop_lag_ns", "", "")].total == 9
    summary = summarise_histograms(run.histograms)
    assert list(summary) == ["PCMU"]  # the producers' own lag stays out
    assert summary["PCMU"]["inbound"]["jitter_ms"] == summarise_histogram(whole)
    assert summary["PCMU"]["inbound"]["jitter_ms"]["count"] == 3000


def test_summary_of_one_histogram() -> None:
    h = Histogram()
    for v in (1 * MS, 2 * MS, 3 * MS, 50 * MS):
        h.record(v)
    # 2 ms sits in a 1-µs bucket, 50 ms in the 32-µs bucket [49.984, 50.016)
    assert summarise_histogram(h) == {
        "p50": 2.001,
        "p90": 50.0,
        "p95": 50.0,
        "p99": 50.0,
        "p999": 50.0,
        "max": 50.016,
        "count": 4,
    }
    assert summarise_histogram(Histogram())["p50"] is None
    assert merged(pd.DataFrame(columns=["metric", "codec", "track", "bucket"])) == {}
