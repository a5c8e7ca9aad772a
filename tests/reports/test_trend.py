"""reports.trend: runs found and ordered by start time, odd summaries noted, every
output written, and bad input answered with exit 2 naming the run or metric."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings, strategies as st

from harness.core.exits import EXIT_FAIL, EXIT_PASS, EXIT_USAGE
from harness.core.trend import Rule
from reports.trend import RunDoc, main, render_html, render_markdown, result


def summary(p99: float, *, verdict: str = "pass", **extra: Any) -> dict[str, Any]:
    return {
        "schema": 1,
        "verdict": verdict,
        "run": {"run_id": "x", "duration_s": 10.0},
        "performance": {
            "codecs": {
                "PCMU": {"latency_ms": {"p99": p99}, "loss_ratio": 0.0},
                "PCMA": {"latency_ms": {"p99": p99 / 2}, "loss_ratio": 0.0},
            },
            "requests": {"error_ratio": 0.0, "by_kind": {"start": {"count": 30}}},
        },
        "thresholds": [
            {
                "name": "latency_ms.p99",
                "result": "fail" if verdict == "fail" else "pass",
            }
        ],
        **extra,
    }


def write_run(root: Path, name: str, doc: Any, started: str | None = None) -> Path:
    run = root / name
    run.mkdir(parents=True)
    text = doc if isinstance(doc, str) else json.dumps(doc)
    (run / "summary.json").write_text(text, encoding="utf-8")
    if started is not None:
        (run / "run.json").write_text(json.dumps({"started_wall": started}))
    return run


def history(root: Path, last_p99: float = 10.0) -> list[Path]:
    """Five nightlies named out of time order: their start times set the order."""
    p99s = {"n-e": 10.0, "n-d": 11.0, "n-c": 9.0, "n-b": 10.5, "n-a": last_p99}
    return [
        write_run(root, name, summary(p99, started_at=f"2026-11-0{i + 1}T02:00:00Z"))
        for i, (name, p99) in enumerate(p99s.items())
    ]


def run_main(
    capsys: pytest.CaptureFixture[str], *args: str | Path
) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_a_quiet_history_passes_and_is_laid_out_oldest_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    history(tmp_path)
    code, out, err = run_main(capsys, f"{tmp_path}/n-*", "--fail-on-change")
    assert code == EXIT_PASS, err
    order = re.findall(r"^\| \d \| (n-\w) \|", out, re.M)
    assert order == ["n-e", "n-d", "n-c", "n-b", "n-a"]
    assert "No run moved beyond the noise band." in out
    for column in ("PCMU latency_ms.p99", "worst codec loss_ratio", "starts_per_s"):
        assert column in out


def test_the_newest_run_beyond_the_band_fails_only_when_asked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    history(tmp_path, last_p99=80.0)
    code, out, _ = run_main(capsys, tmp_path, "--fail-on-change")
    assert code == EXIT_FAIL
    assert "newest FLAGGED" in out
    assert "- n-a: PCMU latency_ms.p99 = 80, worse" in out
    assert run_main(capsys, tmp_path)[0] == EXIT_PASS


def test_failed_gate_runs_are_marked_and_every_file_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = tmp_path / "runs"
    history(runs, last_p99=80.0)
    write_run(
        runs, "n-f", summary(12.0, verdict="fail", started_at="2026-11-09T02:00:00")
    )
    out_dir = tmp_path / "page"
    code, out, _ = run_main(capsys, runs, "--out", out_dir, "--format", "json")
    assert code == EXIT_PASS
    doc = json.loads(out)
    assert [r["name"] for r in doc["runs"]][-1] == "n-f"
    assert doc["runs"][-1]["failed_gates"] == ["latency_ms.p99"]
    assert {(f["run"], f["flag"]) for f in doc["flagged"]} == {("n-a", "worse")}
    assert json.loads((out_dir / "trend.json").read_text()) == doc
    md = (out_dir / "trend.md").read_text()
    assert "**FAIL** ✗ latency_ms.p99" in md
    page = (out_dir / "trend.html").read_text()
    assert page.count("<svg") == 5  # 2 codecs, worst loss, starts/s, error ratio
    assert 'class="failrun"' in page and 'class="flag"' in page
    assert not re.search(r"(src|href)=\"?(https?:)?//", page), "loads nothing external"


def test_start_time_falls_back_to_run_json_then_the_files_time_and_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = write_run(tmp_path, "b-old", summary(5.0))
    os.utime(old / "summary.json", (1_000_000_000, 1_000_000_000))
    write_run(tmp_path, "a-mid", summary(5.0), started="2026-10-01T00:00:00Z")
    write_run(tmp_path, "c-new", summary(5.0, started_at="2026-12-01T00:00:00+00:00"))
    write_run(tmp_path, "d-epoch", summary(5.0, started_at=1_893_456_000))  # 2030
    code, out, _ = run_main(capsys, tmp_path, "--format", "json")
    assert code == EXIT_PASS
    runs = json.loads(out)["runs"]
    assert [(r["name"], r["started_from"]) for r in runs] == [
        ("b-old", "summary.json modification time"),
        ("a-mid", "run.json started_wall"),
        ("c-new", "summary.json started_at"),
        ("d-epoch", "summary.json started_at"),
    ]
    code, out, _ = run_main(capsys, tmp_path)
    assert (
        "Oldest first by start time (1 from run.json started_wall, 1 from "
        "summary.json modification time, 2 from summary.json started_at)." in out
    )


def test_a_symlinked_run_keeps_the_name_it_was_given(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    real = write_run(tmp_path / "store", "20261101T020000-ab12", summary(5.0))
    (tmp_path / "nightly-2026-11-01").symlink_to(real)
    code, out, _ = run_main(capsys, tmp_path / "nightly-2026-11-01", real)
    assert code == EXIT_PASS
    assert "| 1 | nightly-2026-11-01 |" in out and "| 2 |" not in out


def test_a_summary_of_another_shape_is_noted_not_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    history(tmp_path)
    write_run(tmp_path, "old", {"result": "ok", "started_at": "2026-10-01T00:00:00Z"})
    write_run(
        tmp_path,
        "odd",
        {"verdict": 3, "performance": {"codecs": []}, "thresholds": "x",
         "started_at": "yesterday"},
    )  # fmt: skip
    (tmp_path / "n-crashed" / "logs").mkdir(parents=True)  # killed before its summary
    code, out, err = run_main(capsys, f"{tmp_path}/*")
    assert code == EXIT_PASS, err
    assert "- old: summary.json of an older or other shape" in out
    assert "n-crashed: no summary.json (a run that did not finish?)" in out
    assert re.search(r"^\| \d \| old \| .*\| - \| - \|", out, re.M)


@pytest.mark.parametrize(
    ("make", "args", "words"),
    [
        (lambda p: None, ["{root}/nothing-*"], "matches no file or directory"),
        (lambda p: p.mkdir(), ["{root}/empty"], "holds no run (no summary.json)"),
        (
            lambda p: write_run(p, "bad", "{not json"),
            ["{root}/bad"],
            "bad/summary.json: is not valid JSON",
        ),
        (
            lambda p: write_run(p, "list", "[1, 2]"),
            ["{root}/list"],
            "list/summary.json: is not a summary",
        ),
        (
            lambda p: write_run(p, "one", summary(1.0)),
            ["{root}/one", "--metric", "performance.codecs.PCMU.latency_ms.p98"],
            "--metric performance.codecs.PCMU.latency_ms.p98: is in none of the 1 runs'"
            " summary.json; did you mean performance.codecs.PCMU.latency_ms.p99",
        ),
        (
            lambda p: write_run(p, "one", summary(1.0)),
            ["{root}/one", "--window", "0"],
            "--window >= 1",
        ),
    ],
)
def test_bad_input_is_exit_2_naming_what_and_the_fix(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    make: Any,
    args: list[str],
    words: str,
) -> None:
    root = tmp_path / "empty" if "empty" in args[0] else tmp_path
    make(root)
    code, out, err = run_main(capsys, *(a.format(root=tmp_path) for a in args))
    assert code == EXIT_USAGE and not out
    assert err.startswith("streamload trend: ") and words in err
    assert "Traceback" not in err


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**20), max_value=10**20)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(
        st.sampled_from(["performance", "codecs", "PCMU", "latency_ms", "p99",
                         "verdict", "thresholds", "requests", "error_ratio", "x"]),
        inner, max_size=4),
    max_leaves=20,
)  # fmt: skip
"""Summary-like JSON whose keys often hit the default metrics' paths."""


@settings(max_examples=60, deadline=None)
@given(st.lists(json_values, min_size=1, max_size=6), st.booleans())
def test_any_summary_shape_gives_a_table_never_a_traceback(
    docs: list[Any], with_page: bool
) -> None:
    """Whatever JSON object a summary holds, the default metrics lay out (or are
    left out with a note); the Markdown, JSON and (sometimes) the page render."""
    runs = [
        RunDoc(Path(f"r{i}"), f"r{i}", doc if isinstance(doc, dict) else {"x": doc},
               dt.datetime(2026, 1, 1, tzinfo=dt.UTC), "summary.json started_at", ())
        for i, doc in enumerate(docs)
    ]  # fmt: skip
    res = result(runs, None, Rule())
    assert render_markdown(res).startswith("# streamload trend: ")
    json.dumps(res)
    if with_page and res["series"]:
        assert render_html(res).count("<svg") == sum(
            not s["text"] for s in res["series"]
        )
