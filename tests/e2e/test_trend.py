"""``streamload trend`` over five real smoke runs, one made slow with ``--fault delay``.

The five runs go at once (each binds its own free ports, writes its own
directory) to keep the wall time near one run's: four clean ones, then, two
seconds later so it is the newest, one whose platform delays every frame by
150 ms and whose latency gate is tightened so it also fails a gate. On a
loaded 2-core machine a clean smoke run's latency p99 wanders by tens of ms and
its median by a few; its fastest frame (``latency_ms.min``, the path's floor)
stays under a millisecond, while 150 ms lands on every frame. So "exactly that
run" is judged on the worst codec's fastest frame (a 2 ms floor: no load on
this machine lifts every frame of a codec that far), and the default metrics
must flag the delayed run too.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from harness.core.exits import EXIT_FAIL
from reports.trend import main
from tests.e2e.runs import streamload


pytestmark = pytest.mark.e2e

SLOW = "r5-delayed"


def _run(out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return streamload(
        *("run", "--profile", "smoke", "--duration", "2s", "--out", str(out)), *extra
    )


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("trend")
    with ThreadPoolExecutor(max_workers=5) as pool:
        clean = [pool.submit(_run, root / f"r{i}-clean") for i in range(1, 5)]
        time.sleep(2.0)  # run.json's start time has one-second steps
        slow = pool.submit(
            _run,
            root / SLOW,
            *("--fault", "delay=150ms", "--threshold", "latency_ms.p99=<= 100"),
        )
        procs = [f.result() for f in (*clean, slow)]
    for proc in procs:  # a clean run may fail a gate on a busy host; none may crash
        assert proc.returncode in (0, 1), proc.stderr[-3000:]
    return root


def test_trend_flags_exactly_the_delayed_run(runs: Path) -> None:
    proc = streamload(
        *("trend", str(runs / "r*"), "--format", "json"),
        *("--metric", "max:performance.codecs.*.latency_ms.min", "--fail-on-change"),
    )
    assert proc.returncode == 1, proc.stderr  # the newest run moved
    doc = json.loads(proc.stdout)
    assert [r["name"] for r in doc["runs"]][-1] == SLOW
    assert {(f["run"], f["flag"]) for f in doc["flagged"]} == {(SLOW, "worse")}
    slow = doc["runs"][-1]
    assert "latency_ms.p99" in slow["failed_gates"]
    assert {r["started_from"] for r in doc["runs"]} <= {
        "summary.json started_at",
        "run.json started_wall",
    }


def test_trend_default_metrics_flag_the_delayed_run_too(
    runs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """In process (the subcommand's wiring is the test above's), with the page."""
    page = tmp_path / "page"
    code = main([str(runs), "--fail-on-change", "--out", str(page)])
    out = capsys.readouterr().out
    assert code == EXIT_FAIL, out
    assert f"| 5 | {SLOW} |" in out
    assert re.search(rf"^- {SLOW}: \S+ latency_ms\.p99 = [\d.,]+, worse", out, re.M)
    assert {p.name for p in page.iterdir()} == {"trend.html", "trend.md", "trend.json"}
    assert (page / "trend.html").read_text().count("<svg") >= 4
