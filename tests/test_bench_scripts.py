"""The report benchmarks still write runs the current record schemas accept.

They build synthetic runs row by row, so a new record column breaks them
silently until someone measures; a tiny run of each keeps them honest (the
timings themselves are not judged here).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest


ROOT = Path(__file__).resolve().parents[1]


def _script(argv: list[str]) -> subprocess.CompletedProcess[str]:
    """Run one script from the repo's root; it must exit 0 (bounded: 240 s)."""
    done = subprocess.run(
        [sys.executable, *argv],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def _last_json(argv: list[str]) -> dict[str, Any]:
    done = _script(argv)
    doc = json.loads(done.stdout.strip().splitlines()[-1])
    assert isinstance(doc, dict)
    return doc


@pytest.mark.e2e
def test_bench_report_writes_a_run_the_report_reads() -> None:
    doc = _last_json(["scripts/bench_report.py", "--frames", "0.05", "--streams", "5"])
    assert doc["report_exit"] == 0
    assert doc["frames_received"] > 0


@pytest.mark.e2e
def test_bench_capacity_report_writes_a_run_both_reports_read() -> None:
    doc = _last_json(
        ["scripts/bench_capacity_report.py", "--levels", "3", "--step", "2",
         "--every", "2"]
    )  # fmt: skip
    plain, capacity = doc["exits"]
    assert plain == 0 and capacity in (
        0,
        1,
    )  # 1: the tiny run misses [capacity] require
    assert doc["levels"] == 3


@pytest.mark.e2e
def test_bench_tails_compares_both_thresholds_in_one_run() -> None:
    doc = _last_json(
        ["scripts/bench_tails.py", "--streams", "20", "--objects", "20", "--frames",
         "20000", "--repeat", "1"]
    )  # fmt: skip
    assert set(doc["medians"]) == {"before", "after"}


@pytest.mark.e2e
def test_bench_receiver_measures_full_and_bare_on_each_transport() -> None:
    doc = _last_json(
        ["scripts/bench_receiver.py", "--streams", "10", "--seconds", "0.5",
         "--warmup", "0.3", "--repeat", "1", "--attempts", "1", "--patience", "0",
         "--floor-seconds", "0.1", "--every-count"]
    )  # fmt: skip
    assert set(doc["ratios"]) == {
        "full_to_bare-picows",
        "full_to_bare-websockets",
        "full_picows_to_full_websockets",
    }
    assert set(doc["best"]) <= {
        f"{k}-{t}" for k in ("full", "bare") for t in ("picows", "websockets")
    }
    assert "10" in doc["cpu"]


def test_bench_live_folds_and_prints_both_line_kinds() -> None:
    """bench_live drives the receivers' real ``Distributions`` (it had called
    methods that no longer existed); deltas stay smaller than running totals."""
    done = _script(["scripts/bench_live.py", "--soak-s", "5", "--streams", "10,40"])
    docs = [json.loads(line) for line in done.stdout.strip().splitlines()]
    assert [d["streams"] for d in docs] == [10, 40]
    for doc in docs:
        assert doc["fold_ms_per_flush"] > 0 and doc["delta_ms_per_line"] > 0
        assert 0 < doc["delta_bytes"] < doc["totals_bytes"]


def test_bench_start_cpu_times_the_trees_own_create_stream() -> None:
    out = _script(["scripts/bench_start_cpu.py", "--starts", "3000"]).stdout
    found = re.search(
        r"([\d.]+) µs CPU a start \(every thread\), ([\d.]+) µs on the users' thread",
        out,
    )
    assert found, out
    every, users = float(found[1]), float(found[2])
    assert 0 < users <= every


def test_bench_platform_measures_from_the_last_connect_not_the_last_answer() -> None:
    """The dials go on after the REST answers; their burst is not pacing."""
    from scripts.bench_platform import WARMUP_S, window_start

    warmup = int(WARMUP_S * 1e9)
    # connects after the last answer (at 10 s): the window follows the last one
    assert (
        window_start(10.0, [9_000_000_000, 12_500_000_000, 0])
        == 12_500_000_000 + warmup
    )
    # every stream connected before the last answer, or none: from the answer
    assert window_start(10.0, [9_000_000_000]) == 10_000_000_000 + warmup
    assert window_start(10.0, []) == 10_000_000_000 + warmup


def test_bench_platform_alternates_sources_and_forms_the_ratios_per_median(
    tmp_path: Path,
) -> None:
    """A/B (issue 14): each round reverses the platforms' order; per kind and
    count the median run decides; each platform's best over the bare one's."""
    from scripts.bench_platform import _parse, _rounds, summarize

    (tmp_path / "harness" / "platform").mkdir(parents=True)
    args = _parse(
        ["--streams", "500,600", "--repeat", "2",
         "--src", f"a={tmp_path}", "--src", f"b={ROOT}"]
    )  # fmt: skip
    order = [(n, kind) for n, kind, _ in _rounds(args)]
    round_1 = ["bare", "platform:a", "platform:b"]
    round_2 = ["bare", "platform:b", "platform:a"]
    assert order == [(n, k) for n in (500, 600) for k in round_1 + round_2]

    def run(kind: str, n: int, p99: float, us: float) -> dict[str, Any]:
        return {"kind": kind, "streams": n, "err_p99_ms": p99, "cpu_us_per_msg": us}

    got = summarize(
        [run("bare", 500, 0.5, 20), run("bare", 600, 1.0, 20),
         run("platform:a", 500, 1.5, 30), run("platform:a", 500, 9.0, 34),
         run("platform:a", 500, 1.9, 32), run("platform:a", 600, 5.0, 30)]
    )  # fmt: skip
    assert got["best"] == {"bare": 600, "platform:a": 500}
    assert got["medians"]["platform:a@500"] == {"err_p99_ms": 1.9, "cpu_us_per_msg": 32}
    assert got["ratios"]["platform:a/bare streams"] == 0.83
    assert got["ratios"]["platform:a@500 cpu/msg over bare"] == 1.6


@pytest.mark.e2e
def test_bench_flush_alternates_variants_and_writes_real_parts() -> None:
    """A tiny run: both variants measured in turn, every tick timed, parts written."""
    doc = _last_json(
        ["scripts/bench_flush.py", "--rates", "5000", "--seconds", "0.4",
         "--rounds", "1", "--ab", "nice0,none", "--busy", "0.1", "--cpu", "-1"]
    )  # fmt: skip
    assert [r["variant"] for r in doc["runs"]] == ["nice0", "none"]
    main, none = doc["runs"]
    assert main["ticks"] == none["ticks"] == 400
    assert main["parts"] >= 1 and none["parts"] == 0  # "none" discards its batches
    assert set(doc["ratios"]) == {"none/nice0@5000"}


def _bench_locust(*args: str) -> list[str]:
    done = _script(["scripts/bench_locust.py", *args])
    assert "failed requests" not in done.stderr, done.stderr[-3000:]
    return done.stdout.splitlines()


@pytest.mark.e2e
def test_bench_locust_runs_both_users_phase_by_phase_and_interleaved() -> None:
    """Both modes fire real starts at the bench's endpoint without a failure
    (StreamUser's checks pass on its answers) and print the ratios they promise.

    (At 5 s a phase a busy host may leave no CPU window: the bench then says so
    and prints the rates; the CPU figures are not judged here.)"""
    lines = _bench_locust("--seconds", "5", "--users", "2")
    assert lines[0].startswith("StreamUser (full matrix, checks, records): ")
    assert lines[1].startswith("bare FastHttpUser (same endpoint): ")
    assert float(lines[2].rpartition(": ")[2]) > 0  # starts a second, full / bare
    lines = _bench_locust("--interleaved", "1")
    assert [line.partition(":")[0] for line in lines] == [
        "StreamUser",
        "bare FastHttpUser",
        "ratio of CPU a start, bare / StreamUser",
    ]
