"""``python -m reports RUN_DIR``: write the four report files into the run directory.

The gates come from the run's ``profile.json`` (the profile the run used, with
its flags applied), or from ``--profile`` to judge a run again by other rules;
a run without one is judged by the built-in ``default`` profile. Beside
the summary's own sections this adds what the profile asks for: the capacity
search, codecs side by side, and always "what failed and when".

Exit codes (docs/architecture.md, "Command line and outputs"): 0 every gate passed,
1 a threshold or conformance gate failed, 2 usage error (the message names the
fix), 3 the report itself failed or the records are incomplete (verdict
``incomplete``: the harness lost rows, see :mod:`reports.record_health`). When
the run directory is full the report files go to ``$TMPDIR/streamload-<run>``
(:func:`harness.io.space.write_text`), the console says so, and the exit is 3.

A record part that cannot be read (truncated, corrupt, the wrong schema) is
left out and named; the report is still written from the rest, with the
verdict ``incomplete`` and exit 3: rows that were lost say nothing about the
platform.
"""

from __future__ import annotations

import argparse
import json as jsonlib
import sys
import traceback
from collections.abc import Sequence
from html import escape
from pathlib import Path
from typing import Any, Final

from harness.core.errors import ConfigError
from harness.core.exits import EXIT_HARNESS, EXIT_PASS, EXIT_USAGE
from harness.core.profiles.profile import Profile
from harness.io import lifeline, space
from harness.io.profile_file import load_profile
from reports import capacity, compare, coverage, record_health, timeline
from reports.gates import (
    Threshold,
    conformance_gate,
    exit_code,
    verdict,
)
from reports.inputs import need, read_json
from reports.load import BadPart, RecordsError, Run, load_run
from reports.performance import Performance
from reports.render import html, json, junit, markdown, plots
from reports.render.section import Section
from reports.summary import Report, add_run_metadata, build_report


__all__ = ["OUTPUTS", "main", "write_reports"]

OUTPUTS: Final = ("summary.json", "report.md", "report.html", "junit.xml")

EXIT_INCOMPLETE: Final = EXIT_HARNESS
"""Records incomplete: the report was written but judges only what could be read."""
_MAX_RETRIES: Final = 20
"""Parts found bad mid-read before the report gives up on reading around them."""


def _profile(run_dir: Path, ref: str | None) -> Profile | None:
    if ref:
        return load_profile(ref)
    path = run_dir / "profile.json"
    return load_profile(str(path)) if path.is_file() else None


def _read_json(path: Path) -> dict[str, Any] | None:
    """A JSON object the report wrote itself (``summary.json``), or ``None``."""
    try:
        doc = jsonlib.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return None
    return doc if isinstance(doc, dict) else None


_SHAPES: Final[dict[str, tuple[tuple[str, str, str], ...]]] = {
    "run.json": (("events", "array", "object"), ("negative", "object", "")),
    "capacity-live.json": (("levels", "array", "object"),),
    "shape.json": (
        ("start_ns", "number", ""),
        ("levels", "array", "object"),
        ("search", "object", ""),
    ),
}
"""The fields the report walks into, per input file: (field, JSON type, each)."""
_LEVEL_NUMBERS: Final = {
    "capacity-live.json": ("index",),
    "shape.json": ("from_s", "to_s"),
}
"""Numbers every level of these files must carry."""


def _read_input(run_dir: Path) -> Any:
    """Make a reader of the run's JSON inputs: ``None`` when a file is absent.

    A file that is present but unreadable, not JSON, or of the wrong shape is
    a :class:`ConfigError` naming the file and the field (exit 2).
    """

    def read(name: str) -> dict[str, Any] | None:
        path = run_dir / name
        if not path.exists():
            return None
        fix = f"restore {name} from the run or move it aside"
        doc = read_json(path, fix)
        if not isinstance(doc, dict):
            raise ConfigError(str(path), "is not a JSON object", fix)
        for field, kind, each in _SHAPES[name]:
            need(doc, field, kind, path, fix, each=each)
        for i, level in enumerate(doc.get("levels") or []):
            for key in _LEVEL_NUMBERS.get(name, ()):
                if level.get(key) is None:
                    raise ConfigError(f"{path}: levels[{i}].{key}", "is missing", fix)
                need(level, key, "number", f"{path}: levels[{i}]", fix)
        return doc

    return read


def _gated(
    run: Run, profile: Profile | None, performance: Performance | None = None
) -> Report:
    """The summary of ``run`` with the profile's gates (conformance included)."""
    if profile is None:  # a run without profile.json: the built-in default's gates
        profile = load_profile("default")
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
    """Load, summarise, gate, render and write; return (verdict, files, exit code).

    A part that fails mid-read (:class:`~reports.load.RecordsError`) is left
    out and the report built again without it.
    """
    bad: list[BadPart] = []
    while True:
        try:
            return _write_reports(run_dir, profile_ref, bad)
        except RecordsError as exc:
            if len(bad) >= _MAX_RETRIES or exc.bad in bad:
                raise
            bad.append(exc.bad)


def _incomplete_section(summary: dict[str, Any], bad: Sequence[BadPart]) -> Section:
    """Mark the summary incomplete; the section that names the parts left out."""
    return Section(
        key="incomplete",
        markdown=_incomplete(summary, bad),
        html="<p><strong>Records incomplete</strong>: parts left out (exit 3):</p><ul>"
        + "".join(
            f"<li><code>{escape(str(b.path))}</code> ({escape(b.table)}): "
            f"{escape(b.problem)}</li>"
            for b in bad
        )
        + "</ul>",
        placement="top",
    )


def _incomplete(summary: dict[str, Any], bad: Sequence[BadPart]) -> list[str]:
    """Mark the summary incomplete; return the Markdown lines that say why."""
    summary["incomplete"] = {
        "reason": "record parts could not be read; their rows are missing",
        "parts": [
            {"path": str(b.path), "table": b.table, "problem": b.problem} for b in bad
        ],
    }
    summary["verdict"] = "incomplete"
    return [
        "",
        f"**Records incomplete**: {len(bad)} record part(s) could not be read and "
        "were left out; every figure below lacks their rows, so this report "
        "judges nothing (exit 3):",
        "",
        *(f"- `{b.path}` ({b.table}): {b.problem}" for b in bad),
        "",
    ]


def _write_reports(
    run_dir: Path, profile_ref: str | None, exclude: Sequence[BadPart]
) -> tuple[str, list[Path], int]:
    run = load_run(run_dir, exclude)
    profile = _profile(run_dir, profile_ref)
    read = _read_input(run_dir)
    shape = read("shape.json")
    searched = profile is not None and profile.capacity.enabled and shape is not None
    whole, levels = (None, None)
    if searched and shape is not None:
        # one pass over the frames for the whole run and every level
        whole, levels = capacity.level_runs(run, shape)
    report = _gated(run, profile, whole)
    summary = report.summary
    sections: list[Section] = []
    """What the profile adds beside the summary's own sections."""
    run_json = read("run.json") or _read_json(
        space.fallback_dir(run_dir) / "run.json"
    )  # a full run directory: the CLI wrote it where there was room
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
        live = read("capacity-live.json")
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
    health = record_health.collect(
        run_dir, run_json, summary["timeline"].get("start_ns"), run.clock
    )
    record_health.apply(summary, health)  # last: voids every gate set above
    sections.append(
        Section(
            key="timeline",
            markdown=timeline.render_markdown(summary["timeline"]),
            html=timeline.render_html(summary["timeline"]),
        )
    )
    if run.bad_parts:
        sections.append(_incomplete_section(summary, run.bad_parts))
    add_run_metadata(summary, run_dir, run_json, profile, profile_ref)
    texts = {
        "summary.json": json.render(summary),
        "report.md": markdown.render(summary, sections),
        "report.html": html.render(summary, report.plots, sections),
        "junit.xml": junit.render(summary),
    }
    # atomic, so a reader never sees half a report; elsewhere if the disk is full
    paths = [space.write_text(run_dir / name, texts[name]) for name in OUTPUTS]
    code = exit_code(summary["thresholds"])
    if summary["verdict"] == record_health.VERDICT or run.bad_parts:
        code = EXIT_INCOMPLETE
    return summary["verdict"], paths, code


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
        placement="top",  # the answer of a codec comparison, before the detail
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="streamload report",
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
    lifeline.arm()  # the report step of streamload run: end with it
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
    except RecordsError as exc:
        print(
            f"streamload report: records incomplete, no report: {exc}; "
            "move the bad parts aside and run it again",
            file=sys.stderr,
        )
        return EXIT_INCOMPLETE
    except OSError as exc:  # e.g. a full disk both here and in $TMPDIR
        print(f"streamload report: cannot write the report: {exc}", file=sys.stderr)
        return EXIT_HARNESS
    except Exception as exc:  # the report's own bug: say so, with the trace
        traceback.print_exc()
        print(
            f"streamload report: internal error ({type(exc).__name__}: {exc}); "
            "please report it with the traceback above",
            file=sys.stderr,
        )
        return EXIT_HARNESS
    moved = paths[0].parent != run_dir
    if moved:
        print(
            f"streamload report: {run_dir} is full; the report is in {paths[0].parent}",
            file=sys.stderr,
        )
        code = EXIT_HARNESS
    if not args.quiet:
        for path in paths:
            print(path)
        print(f"verdict: {outcome}")
    elif code:
        print(f"verdict: {outcome}", file=sys.stderr)
    if code:
        doc = _read_json(paths[0]) or {}
        message = (doc.get("record_health") or {}).get("message")
        if message:
            print(f"streamload report: {message}", file=sys.stderr)
        for gate in _failed(paths[0]):
            print(f"gate failed: {gate}", file=sys.stderr)
        for part in _incomplete_parts(paths[0]):
            print(f"records incomplete: {part}", file=sys.stderr)
    return code


def _incomplete_parts(summary_path: Path) -> list[str]:
    """One line per record part the report left out."""
    doc = _read_json(summary_path) or {}
    parts = (doc.get("incomplete") or {}).get("parts") or []
    return [f"{p['path']}: {p['problem']}" for p in parts]


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
