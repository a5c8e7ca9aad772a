"""``python -m reports``: the four files, the verdict line and the exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import reports.__main__ as cli
from harness.io.profile_file import load_profile
from tests.conftest import seconds
from tests.reports.conftest import build_failing, build_passing


OUTPUTS = ("summary.json", "report.md", "report.html", "junit.xml")


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reports", *args],
        capture_output=True,
        text=True,
        timeout=seconds(60),
        check=False,
    )


def test_a_passing_run_exits_0_and_writes_four_files(tmp_path: Path) -> None:
    root = build_passing(tmp_path)
    done = run_cli(str(root))

    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        *(str(root / name) for name in OUTPUTS),
        "verdict: pass",
    ]
    assert json.loads((root / "summary.json").read_text())["verdict"] == "pass"
    assert not list(root.glob(".*.tmp"))


def test_a_failing_gate_exits_1(tmp_path: Path) -> None:
    root = build_failing(tmp_path)
    done = run_cli(str(root), "--quiet")

    assert done.returncode == 1, done.stderr
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert lines[0] == "verdict: fail"
    assert lines[1:] and all(line.startswith("gate failed: ") for line in lines[1:])
    assert all((root / name).is_file() for name in OUTPUTS)


def test_a_missing_run_dir_exits_2_naming_the_fix(tmp_path: Path) -> None:
    done = run_cli(str(tmp_path / "nope"))

    assert done.returncode == 2
    assert done.stderr == (
        f"streamload report: RUN_DIR: {str(tmp_path / 'nope')!r} is not a directory; "
        "pass the directory a streamload run wrote\n"
    )


def test_usage_errors_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main([]) == 2
    assert "RUN_DIR" in capsys.readouterr().err
    assert cli.main([str(tmp_path)]) == 2  # a directory, but no records
    assert "no records/<table>/*.parquet" in capsys.readouterr().err
    assert cli.main(["--help"]) == 0


def test_a_bug_in_the_report_exits_3(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    root = build_passing(tmp_path)

    def broken(*_: object) -> None:
        raise KeyError("boom")

    monkeypatch.setattr(cli, "build_report", broken)
    assert cli.main([str(root)]) == 3
    err = capsys.readouterr().err
    assert "Traceback" in err
    assert err.splitlines()[-1] == (
        "streamload report: internal error (KeyError: 'boom'); "
        "please report it with the traceback above"
    )


def test_the_runs_profile_sets_the_gates_and_sections(tmp_path: Path) -> None:
    """profile.json (what streamload run writes) decides the gates; sections follow it."""
    root = build_passing(tmp_path)
    profile = load_profile("codec-compare")
    doc = profile.document()
    doc["thresholds"] = {"latency_ms.p99{codec=PCMU}": ["< 0.5"]}
    doc["conformance"]["allow"] = []
    (root / "profile.json").write_text(json.dumps(doc))
    done = run_cli(str(root), "--quiet")
    assert done.returncode == 1
    assert "gate failed: latency_ms.p99{codec=PCMU} (" in done.stderr
    assert (
        "performance.codecs.PCMU.latency_ms.p99 = 1, breaks the limit < 0.5"
        in done.stderr
    )
    summary = json.loads((root / "summary.json").read_text())
    assert [g["name"] for g in summary["thresholds"]] == [
        "conformance",
        "latency_ms.p99{codec=PCMU}",
    ]
    assert summary["profile"]["name"] == "codec-compare"
    assert summary["codec_compare"]["baseline"] == "PCMU"
    markdown = (root / "report.md").read_text()
    assert (
        "## Codecs side by side" in markdown and "## What failed and when" in markdown
    )
    # the answer of the job comes before the detail tables
    assert markdown.index("## Codecs side by side") < markdown.index("## Accounting")
    html = (root / "report.html").read_text()
    assert html.rstrip().endswith("</body></html>") and "Codecs side by side" in html
    junit = (root / "junit.xml").read_text()
    assert 'name="latency_ms.p99{codec=PCMU} [codec=PCMU]"' in junit


def test_profile_flag_judges_again_by_other_rules(tmp_path: Path) -> None:
    root = build_failing(tmp_path)
    relaxed = tmp_path / "relaxed.toml"
    relaxed.write_text(
        """extends = "none"
[thresholds]
"accounting.requests_started_ok" = ">= 1"
[conformance]
gate = false
"""
    )
    done = run_cli(str(root), "--quiet", "--profile", str(relaxed))
    assert done.returncode == 0, done.stderr
    bad = tmp_path / "bad.toml"
    bad.write_text('[thresholds]\n"jitter_ms.p99{codec=X}" = "< 1"\n')
    done = run_cli(str(root), "--profile", str(bad))
    assert done.returncode == 2
    assert (
        f"{bad}:2: thresholds.\"jitter_ms.p99{{codec=X}}\": 'X' is not a codec"
        in done.stderr
    )


def test_what_ran_heads_the_summary_and_every_gate_has_a_source(
    tmp_path: Path,
) -> None:
    """Issue 15: start, target, profile, load, version, commit and tags, from run.json."""
    root = build_failing(tmp_path / "run")
    (root / "profile.json").write_text(json.dumps(load_profile("smoke").document()))
    run_json: dict[str, object] = {
        "profile": "smoke",
        "profile_source": "smoke (built-in)",
        "target": "https://u:secret-x@example.test:8443/api/laml/2010-04-01?x=1",
        "started_wall": "2026-12-02T10:00:00Z",
        "version": "9.8.7",
        "git_commit": None,
        "tags": {"branch": "main"},
        "negative": {"state": "off", "why": ""},
        "events": [],
    }
    (root / "run.json").write_text(json.dumps(run_json))
    (root / "locust.html").write_text("<title>Locust</title>")
    cli.write_reports(root)

    text = (root / "summary.json").read_text()
    summary = json.loads(text)
    assert list(summary)[:11] == [
        "schema", "verdict", "started_at", "target", "profile", "load",
        "version", "git_commit", "tags", "files", "run",
    ]  # fmt: skip
    assert summary["started_at"] == "2026-12-02T10:00:00Z"
    assert summary["target"] == "https://example.test:8443/api/laml/2010-04-01"
    assert "secret-x" not in text and "secret-x" not in (root / "report.md").read_text()
    assert summary["profile"] == {"name": "smoke", "source": "smoke (built-in)"}
    assert summary["load"]["users"] == 4 and summary["load"]["duration_s"] == 6.0
    assert (summary["version"], summary["git_commit"]) == ("9.8.7", None)
    assert summary["tags"] == {"branch": "main"}
    assert summary["files"] == {"locust": "locust.html", "records": "records"}
    sources = {g["name"]: g["source"] for g in summary["thresholds"]}
    assert sources["latency_ms.p99"] == "smoke (built-in):26"
    assert sources["conformance"] == "smoke (built-in) [conformance] gate"
    assert all(sources.values())
    markdown = (root / "report.md").read_text().splitlines()
    assert markdown[2].startswith("**") and " gates, " in markdown[2]
    assert "- Tags: branch=main" in markdown
    assert "- Target: https://example.test:8443/api/laml/2010-04-01" in markdown

    relaxed = tmp_path / "relaxed.toml"
    relaxed.write_text('extends = "none"\n[thresholds]\n"loss_ratio" = "<= 1"\n')
    cli.write_reports(root, str(relaxed))
    again = json.loads((root / "summary.json").read_text())
    assert again["profile"]["name"] == "smoke"  # what ran; judged by another
    assert again["profile"]["judged_by"]["source"] == str(relaxed)
    assert again["load"]["users"] == 4


def test_without_run_json_what_is_not_known_is_null(tmp_path: Path) -> None:
    root = build_passing(tmp_path)
    cli.write_reports(root)
    summary = json.loads((root / "summary.json").read_text())
    assert summary["started_at"] is None and summary["target"] is None
    assert summary["tags"] == {} and summary["load"] is None
    assert summary["version"]  # the streamload that wrote the report
    html = (root / "report.html").read_text()
    assert "Started</dt><dd>not recorded" in html
    assert 'href="locust.html"' not in html  # no Locust report in this run
