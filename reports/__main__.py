"""``python -m reports RUN_DIR``: write the four report files into the run directory.

Exit codes (architecture.md, "Command line and outputs"): 0 every gate passed,
1 a threshold or conformance gate failed, 2 usage error (the message names the
fix), 3 the report itself failed.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from harness.errors import ConfigError
from reports.gates import exit_code
from reports.load import load_run
from reports.render import html, json, junit, markdown
from reports.summary import build_report


__all__ = ["OUTPUTS", "main", "write_reports"]

OUTPUTS: Final = ("summary.json", "report.md", "report.html", "junit.xml")

EXIT_PASS: Final = 0
EXIT_FAIL: Final = 1
EXIT_USAGE: Final = 2
EXIT_INTERNAL: Final = 3


def write_reports(run_dir: Path) -> tuple[str, list[Path], int]:
    """Load, summarise, render and write; return (verdict, files, exit code)."""
    run = load_run(run_dir)
    report = build_report(run)
    texts = {
        "summary.json": json.render(report.summary),
        "report.md": markdown.render(report.summary),
        "report.html": html.render(report.summary, report.plots),
        "junit.xml": junit.render(report.summary),
    }
    paths = [_write(run_dir / name, texts[name]) for name in OUTPUTS]
    return report.summary["verdict"], paths, exit_code(report.summary["thresholds"])


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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code instead of exiting."""
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # argparse has printed its usage message
        return EXIT_PASS if exc.code == 0 else EXIT_USAGE
    run_dir: Path = args.run_dir
    try:
        verdict, paths, code = write_reports(run_dir)
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
        print(f"verdict: {verdict}")
    elif code:
        print(f"verdict: {verdict}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
