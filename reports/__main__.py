"""``python -m reports RUN_DIR``: write the four report files into the run directory.

The gates come from the run's ``profile.json`` (the profile the run used, with
its flags applied), or from ``--profile`` to judge a run again by other rules;
a run without one is judged by :data:`reports.gates.DEFAULT_THRESHOLDS`. Beside
the summary's own sections this adds what the profile asks for: the capacity
search, codecs side by side, and always "what failed and when".

Exit codes (architecture.md, "Command line and outputs"): 0 every gate passed,
1 a threshold or conformance gate failed, 2 usage error (the message names the
fix), 3 the report itself failed.
"""

from __future__ import annotations

import argparse
import json as jsonlib
import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from harness.errors import ConfigError
from harness.profile import Profile, load_profile
from reports import capacity, compare, coverage, timeline
from reports.gates import (
    DEFAULT_THRESHOLDS,
    Threshold,
    conformance_gate,
    exit_code,
    verdict,
)
from reports.load import Run, load_run
from reports.performance import Performance
from reports.render import html, json, junit, markdown, plots
from reports.render.section import Section
from reports.summary import Report, build_report


__all__ = ["OUTPUTS", "main", "write_reports"]

OUTPUTS: Final = ("summary.json", "report.md", "report.html", "junit.xml")

EXIT_PASS: Final = 0
EXIT_FAIL: Final = 1
EXIT_USAGE: Final = 2
EXIT_INTERNAL: Final = 3


def _profile(run_dir: Path, ref: str | None) -> Profile | None:
    if ref:
        return load_profile(ref)
    path = run_dir / "profile.json"
    return load_profile(str(path)) if path.is_file() else None


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        doc = jsonlib.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def _gated(
    run: Run, profile: Profile | None, performance: Performance | None = None
) -> Report:
    """The summary of ``run`` with the profile's gates (conformance included)."""
    if profile is None:
        return build_report(run, DEFAULT_THRESHOLDS, performance)
    thresholds = [Threshold.from_spec(g.as_json()) for g in profile.gates()]
    report = build_report(run, thresholds, performance)
    if profile.conformance.gate:
        gate = conformance_gate(report.summary, profile.conformance.allow)
        report.summary["thresholds"].insert(0, gate)
    report.summary["verdict"] = verdict(report.summary["thresholds"])
    return report


def write_reports(
    run_dir: Path, profile_ref: str | None = None
) -> tuple[str, list[Path], int]:
    """Load, summarise, gate, render and write; return (verdict, files, exit code)."""
    run = load_run(run_dir)
    profile = _profile(run_dir, profile_ref)
    shape = _read_json(run_dir / "shape.json")
    searched = profile is not None and profile.capacity.enabled and shape is not None
    whole, levels = (None, None)
    if searched and shape is not None:
        # one pass over the frames for the whole run and every level
        whole, levels = capacity.level_runs(run, shape)
    report = _gated(run, profile, whole)
    summary = report.summary
    sections: list[Section] = []
    """What the profile adds beside the summary's own sections."""
    if profile is not None:
        summary["profile"] = {"name": profile.name, "source": profile.source}
    run_json = _read_json(run_dir / "run.json")
    require = profile.conformance.require if profile is not None else "none"
    unchecked = coverage.not_checked(
        summary["conformance"]["results"],
        coverage.facts_from(
            summary,
            profile.matrix.values if profile is not None else None,
            profile.conformance.negative if profile is not None else None,
            run_json,
        ),
        require,
    )
    summary["conformance"]["not_checked_rules"] = unchecked
    if searched and profile is not None and shape is not None:
        live = _read_json(run_dir / "capacity-live.json")
        sections.append(_capacity(run, shape, profile, levels, live, summary))
    gate = coverage.coverage_gate(
        unchecked,
        require,
        f"{profile.name} profile, [conformance] require" if profile else "",
    )
    if gate is not None:  # a whole-run property: after capacity, which may reset gates
        gates = summary["thresholds"]
        at = next((i + 1 for i, g in enumerate(gates) if g["name"] == "conformance"), 0)
        gates.insert(at, gate)
        summary["verdict"] = verdict(gates)
    if profile is not None and profile.report.codec_compare:
        sections.append(_codec_compare(profile, summary))
    summary["timeline"] = timeline.timeline(run, run_json)
    if run_json is not None and run_json.get("budget"):
        summary["run"]["budget"] = run_json["budget"]  # run_line shows a cap reached
    sections.append(
        Section(
            key="timeline",
            markdown=timeline.render_markdown(summary["timeline"]),
            html=timeline.render_html(summary["timeline"]),
        )
    )
    texts = {
        "summary.json": json.render(summary),
        "report.md": markdown.render(summary, sections),
        "report.html": html.render(summary, report.plots, sections),
        "junit.xml": junit.render(summary),
    }
    paths = [_write(run_dir / name, texts[name]) for name in OUTPUTS]
    return summary["verdict"], paths, exit_code(summary["thresholds"])


def _capacity(
    run: Run,
    shape: dict[str, Any],
    profile: Profile,
    levels: capacity.Levels | None,
    live: dict[str, Any] | None,
    summary: dict[str, Any],
) -> Section:
    """Gate every level; the answer replaces the whole run's gates in ``summary``."""
    result = capacity.search(
        run,
        shape,
        lambda part, performance: _gated(part, profile, performance).summary,
        profile.capacity.require,
        live=live,
        levels_run=levels,
    )
    summary["capacity"] = result
    # the whole run includes the levels that broke: only the answer gates it
    summary["thresholds"] = [capacity.capacity_gate(result)]
    summary["verdict"] = verdict(summary["thresholds"])
    return Section(
        key="capacity",
        markdown=capacity.render_markdown(result),
        html=capacity.render_html(result, plots.capacity(result)),
        placement="top",
    )


def _codec_compare(profile: Profile, summary: dict[str, Any]) -> Section:
    """Codecs side by side, added to ``summary`` as ``codec_compare``."""
    side = compare.compare_codecs(summary, profile.report.baseline, profile.report.band)
    summary["codec_compare"] = side
    return Section(
        key="codec_compare",
        markdown=compare.render_codec_markdown(side),
        html=compare.render_codec_html(side),
    )


def _write(path: Path, text: str) -> Path:
    """Replace ``path`` atomically, so a reader never sees half a report."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m reports",
        description="Build summary.json, report.md, report.html and junit.xml "
        "from a run directory's records.",
    )
    parser.add_argument("run_dir", metavar="RUN_DIR", type=Path, help="a run directory")
    parser.add_argument(
        "--quiet", action="store_true", help="print nothing unless something failed"
    )
    parser.add_argument(
        "--profile",
        default=None,
        help="judge by this profile's gates (default: the run's profile.json)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code instead of exiting."""
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # argparse has printed its usage message
        return EXIT_PASS if exc.code == 0 else EXIT_USAGE
    run_dir: Path = args.run_dir
    try:
        outcome, paths, code = write_reports(run_dir, args.profile)
    except ConfigError as exc:
        print(f"streamload report: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as exc:  # the report's own bug: say so, with the trace
        traceback.print_exc()
        print(
            f"streamload report: internal error ({type(exc).__name__}: {exc}); "
            "please report it with the traceback above",
            file=sys.stderr,
        )
        return EXIT_INTERNAL
    if not args.quiet:
        for path in paths:
            print(path)
        print(f"verdict: {outcome}")
    elif code:
        print(f"verdict: {outcome}", file=sys.stderr)
    if code:
        for gate in _failed(paths[0]):
            print(f"gate failed: {gate}", file=sys.stderr)
    return code


def _failed(summary_path: Path) -> list[str]:
    """One line per failed gate, for the CI log: the name, where it was declared, why."""
    doc = _read_json(summary_path) or {}
    out = []
    for gate in doc.get("thresholds", []):
        if gate.get("result") == "fail":
            where = f" ({gate['source']})" if gate.get("source") else ""
            out.append(f"{gate['name']}{where}: {gate['message']}")
    return out


if __name__ == "__main__":
    sys.exit(main())
