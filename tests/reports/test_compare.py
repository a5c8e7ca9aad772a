"""reports.compare: deltas beyond a noise band are regressions; the CLI exits 0/1/2."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from reports.compare import (
    compare_codecs,
    compare_runs,
    judge,
    render_codec_markdown,
    render_markdown,
)
from tests.conftest import seconds


def codec(
    latency_p50: float, jitter_p99: float, loss: float, count: int = 1000
) -> dict[str, Any]:
    return {
        "latency_ms": {"p50": latency_p50, "p99": latency_p50 * 2, "count": count},
        "jitter_ms": {"p50": jitter_p99 / 2, "p99": jitter_p99, "count": count},
        "setup_ms": {"p50": 20.0, "p99": 40.0, "count": 10},
        "loss_ratio": loss,
    }


def summary(run_id: str, **codecs: dict[str, Any]) -> dict[str, Any]:
    return {
        "run": {"run_id": run_id},
        "verdict": "pass",
        "performance": {
            "codecs": codecs,
            "requests": {"error_ratio": 0.0, "from_due_ms": {"p99": 5.0, "count": 50}},
        },
        "conformance": {"failed": 0},
        "accounting": {"unaccounted": 0},
        "thresholds": [
            {"name": "loss_ratio", "metric": "m", "result": "pass", "message": "ok"}
        ],
    }


BASE = summary("base", PCMU=codec(1.0, 2.0, 0.0), L16=codec(1.2, 2.5, 0.0))


@pytest.mark.parametrize(
    ("base", "new", "better", "floor", "verdict"),
    [
        (10.0, 11.9, "lower", 0.0, "same"),  # within 20 %
        (10.0, 12.1, "lower", 0.0, "regressed"),
        (10.0, 7.9, "lower", 0.0, "improved"),
        (0.5, 2.4, "lower", 2.0, "same"),  # within the floor
        (0.5, 2.6, "lower", 2.0, "regressed"),
        (10.0, 7.0, "higher", 0.0, "regressed"),
        (None, 3.0, "lower", 0.0, "no-data"),
    ],
)
def test_judge(base, new, better, floor, verdict) -> None:
    assert judge(base, new, better, floor, 0.2)["verdict"] == verdict


def test_an_identical_run_has_no_regression() -> None:
    result = compare_runs(BASE, copy.deepcopy(BASE))
    assert result["verdict"] == "same-or-better" and result["regressions"] == 0
    assert "No metric moved beyond the noise band." in render_markdown(result)


def test_an_injected_regression_is_flagged_per_codec_and_metric() -> None:
    new = copy.deepcopy(BASE)
    new["run"]["run_id"] = "new"
    new["performance"]["codecs"]["PCMU"]["latency_ms"]["p50"] = 21.0
    new["performance"]["codecs"]["L16"]["loss_ratio"] = 0.01
    new["verdict"] = "fail"
    new["thresholds"][0] = {
        "name": "loss_ratio",
        "metric": "m",
        "result": "fail",
        "message": "0.01 > 0.001",
    }
    result = compare_runs(BASE, new)
    flagged = {
        (r["codec"], r["metric"]) for r in result["rows"] if r["verdict"] == "regressed"
    }
    assert flagged == {("PCMU", "latency_ms.p50"), ("L16", "loss_ratio")}
    assert result["newly_failing_gates"][0]["name"] == "loss_ratio"
    assert result["regressions"] == 3
    text = render_markdown(result)
    assert "| **REGRESSED** | PCMU | latency_ms.p50 | 1 | 21 | 20 (+2000 %) |" in text
    assert "- loss_ratio: 0.01 > 0.001" in text


def test_too_few_samples_are_not_judged() -> None:
    new = copy.deepcopy(BASE)
    new["performance"]["codecs"]["PCMU"]["setup_ms"]["p99"] = 4000.0  # 10 samples
    rows = compare_runs(BASE, new)["rows"]
    row = next(
        r for r in rows if r["codec"] == "PCMU" and r["metric"] == "setup_ms.p99"
    )
    assert row["verdict"] == "too-few"


def test_codecs_side_by_side() -> None:
    side = compare_codecs(
        summary("x", PCMU=codec(1.0, 2.0, 0.0), L16=codec(9.0, 2.1, 0.0))
    )
    assert side["baseline"] == "PCMU"
    assert side["codecs"]["L16"]["latency_ms.p50"]["verdict"] == "regressed"
    assert side["codecs"]["L16"]["jitter_ms.p99"]["verdict"] == "same"
    assert side["worse_than_baseline"] == {"L16": ["latency_ms.p50"]}
    lines = render_codec_markdown(side)
    assert "| metric | PCMU | L16 |" in lines
    assert "| latency p50 ms | 1 | **9 (+800 %)** |" in lines


def write_run(root: Path, doc: dict[str, Any]) -> Path:
    root.mkdir()
    (root / "summary.json").write_text(json.dumps(doc))
    return root


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reports.compare", *args],
        capture_output=True,
        text=True,
        timeout=seconds(60),
        check=False,
    )


def test_the_command_line_exit_codes(tmp_path: Path) -> None:
    base = write_run(tmp_path / "base", BASE)
    same = write_run(tmp_path / "same", BASE)
    worse_doc = copy.deepcopy(BASE)
    worse_doc["performance"]["codecs"]["PCMU"]["jitter_ms"]["p99"] = 30.0
    worse = write_run(tmp_path / "worse", worse_doc)
    assert run_cli(str(base), str(same)).returncode == 0
    out = tmp_path / "cmp.json"
    done = run_cli(str(base), str(worse), "--json", str(out))
    assert done.returncode == 1 and "REGRESSED" in done.stdout
    assert json.loads(out.read_text())["verdict"] == "regressed"
    missing = run_cli(str(base), str(tmp_path / "nope"))
    assert missing.returncode == 2 and "no readable summary.json" in missing.stderr
    assert run_cli(str(base), str(same), "--band", "-1").returncode == 2


def test_timings_from_a_saturated_harness_are_suspect_not_regressions() -> None:
    new = copy.deepcopy(BASE)
    new["performance"]["codecs"]["PCMU"]["latency_ms"]["p50"] = 21.0
    new["performance"]["codecs"]["L16"]["loss_ratio"] = 0.01
    new["performance"]["codecs"]["L16"]["latency_ms"]["p50"] = 60.0
    new["performance"]["harness"] = {
        "saturated": True,
        "pacing_ms": {"p99": 25.0},
        "producers": {"receiver-0": {"lag_ms": {"p99": 6.0}}},
    }
    result = compare_runs(BASE, new)
    verdicts = {(r["codec"], r["metric"]): r["verdict"] for r in result["rows"]}
    assert verdicts[("PCMU", "latency_ms.p50")] == "suspect"  # +20 ms <= 25 ms pacing
    assert verdicts[("L16", "latency_ms.p50")] == "regressed"  # beyond what it explains
    assert verdicts[("L16", "loss_ratio")] == "regressed"  # counts still decide
    assert result["saturated"] == ["NEW"] and result["regressions"] == 2
    assert "**Harness saturated in NEW**" in render_markdown(result)
