"""Metrics over many runs, for a nightly's history page: ``streamload trend RUN_DIR...``.

Reads each run's ``summary.json``, orders the runs by when they started
(``summary.json``'s ``started_at``; else ``run.json``'s ``started_wall``; else
the summary file's modification time, and says which; ties by name), and lays the chosen
metrics out as a table (Markdown on stdout, or ``--format json|html``) and, with
``--out DIR``, as ``trend.html`` (one self-contained page, an inline SVG plot
per metric), ``trend.md`` and ``trend.json``. Runs that failed gates are marked;
a value outside the noise band of the runs before it is flagged (the rule is in
:mod:`harness.core.trend`, which does the judging; this module does the I/O).

Exit 0, or 1 with ``--fail-on-change`` when the newest run is flagged worse (or
changed, for a metric with no better direction); 2 for bad input (no runs, an
unreadable summary, an unknown metric), naming the run or metric and the fix.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import glob
import html
import json
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from harness.core.errors import ConfigError
from harness.core.exits import EXIT_FAIL, EXIT_PASS, EXIT_USAGE
from harness.core.trend import (
    DEFAULT_METRICS,
    FLAGGED,
    Rule,
    Series,
    failed_gates,
    trend,
)
from reports.inputs import read_json
from reports.render.common import fmt


__all__ = [
    "RunDoc",
    "find_runs",
    "load_run",
    "main",
    "render_html",
    "render_markdown",
    "result",
]

Json = dict[str, Any]

_FIX: Final = (
    "pass run directories that streamload wrote (each with a summary.json; "
    "'streamload report DIR' rebuilds one), or a quoted glob such as 'runs/nightly-*'"
)
_MARK: Final = {"worse": "▲ worse", "better": "▼ better", "changed": "◆ changed"}


@dataclasses.dataclass(frozen=True)
class RunDoc:
    """One run: where it is, its summary, when it started and how we know."""

    path: Path
    name: str
    doc: Mapping[str, Any]
    started: dt.datetime
    started_from: str
    notes: tuple[str, ...]


def find_runs(args: Sequence[str], skipped: list[str] | None = None) -> list[Path]:
    """Run directories from arguments: directories, summary files, globs (expanded
    here too, for a quoted one), or a directory whose children are runs. A
    directory a glob matched that holds no run (one that never finished) is
    left out, and said so in ``skipped``.

    Raises:
        ConfigError: an argument matches nothing, or nothing is a run.
    """
    found: list[Path] = []
    for arg in args:
        paths = (
            sorted(Path(p) for p in glob.glob(arg))
            if glob.has_magic(arg)
            else [Path(arg)]
        )
        if not paths or not paths[0].exists():
            raise ConfigError(arg, "matches no file or directory", _FIX)
        for path in paths:
            if path.is_file():
                if path.name == "summary.json":
                    found.append(path.parent)
                elif not glob.has_magic(arg):
                    raise ConfigError(arg, "is a file, not a run directory", _FIX)
            elif (path / "summary.json").exists():
                found.append(path)
            else:  # a directory of runs, e.g. runs/
                children = sorted(p.parent for p in path.glob("*/summary.json"))
                if not children and glob.has_magic(arg) and skipped is not None:
                    skipped.append(
                        f"{path}: no summary.json (a run that did not finish?)"
                    )
                found += children
    by_target = {p.resolve(): p.absolute() for p in reversed(found)}  # first wins
    unique = list(by_target.values())  # named as given (a symlink keeps its name)
    if not unique:
        raise ConfigError(" ".join(args), "holds no run (no summary.json)", _FIX)
    return unique


def _parse_time(text: Any) -> dt.datetime | None:
    """An ISO 8601 time (UTC when it names no zone), or seconds since the epoch."""
    if isinstance(text, int | float) and not isinstance(text, bool):
        try:
            return dt.datetime.fromtimestamp(text, dt.UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if not isinstance(text, str):
        return None
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def _started(path: Path, doc: Mapping[str, Any]) -> tuple[dt.datetime, str]:
    """When the run started, and which field said so."""
    when = _parse_time(doc.get("started_at"))
    if when is not None:
        return when, "summary.json started_at"
    try:
        run = json.loads((path / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        run = None
    if isinstance(run, Mapping):
        when = _parse_time(run.get("started_wall"))
        if when is not None:
            return when, "run.json started_wall"
    mtime = (path / "summary.json").stat().st_mtime
    return dt.datetime.fromtimestamp(mtime, dt.UTC), "summary.json modification time"


def load_run(path: Path) -> RunDoc:
    """One run's summary, start time and notes on its shape.

    Raises:
        ConfigError: the summary cannot be read, is not JSON, or not an object.
    """
    summary = path / "summary.json"
    doc = read_json(summary, _FIX)
    if not isinstance(doc, dict):
        raise ConfigError(str(summary), "is not a summary (not a JSON object)", _FIX)
    notes: list[str] = []
    if not isinstance(doc.get("performance"), Mapping) or "verdict" not in doc:
        notes.append(
            "summary.json of an older or other shape (no performance or verdict): "
            "its metrics show '-'"
        )
    elif doc.get("schema") not in (None, 1):
        notes.append(f"summary schema {doc.get('schema')!r} (this reader knows 1)")
    started, source = _started(path, doc)
    name = path.name  # the directory a user named (runs/<run id> by default)
    return RunDoc(path, name, doc, started, source, tuple(notes))


def result(
    runs: Sequence[RunDoc],
    specs: Sequence[str] | None,
    rule: Rule,
    skipped: Sequence[str] = (),
) -> Json:
    """The trend as plain JSON data: runs, series with their bands, what was flagged
    (``specs``: the metrics asked for; ``None``: the default set, whose metrics
    no run has are left out and listed under ``absent``).

    Raises:
        ConfigError: a metric is malformed or, when asked for, in no run.
    """
    absent: list[str] | None = None if specs else []
    series = trend(
        [r.doc for r in runs], specs or DEFAULT_METRICS, rule, missing=absent
    )
    flagged = [
        {
            "run": runs[i].name,
            "index": i,
            "metric": s.label,
            "spec": s.spec,
            "flag": p.flag,
            "value": p.value,
            "band": [p.band.low, p.band.high] if p.band else None,
        }
        for s in series
        for i, p in enumerate(s.points)
        if p.flag in ("worse", "better", "changed")
    ]
    newest = len(runs) - 1
    return {
        "rule": dataclasses.asdict(rule),
        "runs": [
            {
                "name": r.name,
                "path": str(r.path),
                "started": r.started.isoformat(),
                "started_from": r.started_from,
                "verdict": r.doc.get("verdict"),
                "failed_gates": list(dict.fromkeys(failed_gates(r.doc))),
                "notes": list(r.notes),
            }
            for r in runs
        ],
        "series": [_series_json(s) for s in series],
        "absent": absent or [],
        "skipped": list(skipped),
        "flagged": flagged,
        "newest_flagged": any(
            f["index"] == newest and f["flag"] in FLAGGED for f in flagged
        ),
    }


def _series_json(s: Series) -> Json:
    return {
        "spec": s.spec,
        "label": s.label,
        "better": s.better,
        "floor": s.floor,
        "text": s.text,
        "points": [
            {
                "value": p.value,
                "flag": p.flag,
                "band": None
                if p.band is None
                else {
                    "center": p.band.center,
                    "half": p.band.half,
                    "low": p.band.low,
                    "high": p.band.high,
                    "history": p.band.history,
                },
            }
            for p in s.points
        ],
    }


# --------------------------------------------------------------------- rendering


def _cell(point: Mapping[str, Any]) -> tuple[str, bool]:
    text = fmt(point["value"])
    mark = _MARK.get(point["flag"])
    return (f"{text} {mark}", point["flag"] in FLAGGED) if mark else (text, False)


def _rule_line(res: Mapping[str, Any]) -> str:
    r = res["rule"]
    sources: dict[str, int] = {}
    for run in res["runs"]:
        sources[run["started_from"]] = sources.get(run["started_from"], 0) + 1
    order = ", ".join(f"{n} from {what}" for what, n in sorted(sources.items()))
    return (
        f"Oldest first by start time ({order}). "
        f"Each run against the median of up to {r['window']} runs before it "
        f"(at least {r['min_history']}): flagged beyond max({r['k']:g} x 1.4826 x MAD, "
        f"{r['rel'] * 100:g} % of the median, the metric's floor)."
    )


def render_markdown(res: Mapping[str, Any]) -> str:
    """The trend for a terminal, a CI job summary or a wiki page."""
    runs, series = res["runs"], res["series"]
    head = "FLAGGED" if res["newest_flagged"] else "ok"
    lines = [
        f"# streamload trend: {len(runs)} runs, newest {head}",
        "",
        _rule_line(res),
        "",
    ]
    lines += [
        "| # | run | started (UTC) | verdict | "
        + " | ".join(s["label"] for s in series)
        + " |",
        "|---|---|---|---|" + "---|" * len(series),
    ]
    for i, run in enumerate(runs):
        verdict = str(run["verdict"] or "-")
        if run["failed_gates"]:
            verdict = f"**{verdict.upper()}** ✗ {', '.join(run['failed_gates'])}"
        cells = []
        for s in series:
            text, bad = _cell(s["points"][i])
            cells.append(f"**{text}**" if bad else text)
        lines.append(
            f"| {i + 1} | {run['name']} | {run['started'][:19].replace('T', ' ')} "
            f"| {verdict} | " + " | ".join(cells) + " |"
        )
    lines += ["", *_flag_lines(res)]
    notes = [f"- {r['name']}: {n}" for r in runs for n in r["notes"]]
    notes += [f"- {m}: in no run's summary.json, left out" for m in res["absent"]]
    notes += [f"- left out: {x}" for x in res["skipped"]]
    if notes:
        lines += ["", "Notes:", "", *notes]
    return "\n".join(lines) + "\n"


def _flag_lines(res: Mapping[str, Any]) -> list[str]:
    if not res["flagged"]:
        return ["No run moved beyond the noise band."]
    out = ["Beyond the noise band:", ""]
    for f in res["flagged"]:
        low, high = f["band"]
        out.append(
            f"- {f['run']}: {f['metric']} = {fmt(f['value'])}, {f['flag']} "
            f"(band {fmt(low)} .. {fmt(high)})"
        )
    return out


def _plot(series: Mapping[str, Any], runs: Sequence[Mapping[str, Any]]) -> str:
    """One metric over the runs: the band shaded, failed-gate runs on a red strip,
    flagged points ringed."""
    # here, not at the top: the Markdown and JSON outputs need neither matplotlib
    # nor the report's plotting module (which loads pandas): 1 s less per call
    import matplotlib
    from matplotlib.figure import Figure

    from reports.render.plots import _RC, _svg

    xs = list(range(len(runs)))
    points = series["points"]
    with matplotlib.rc_context(_RC):
        figure = Figure(figsize=(6.4, 2.6))
        figure.subplots_adjust(left=0.1, right=0.98, top=0.88, bottom=0.3)
        ax = figure.add_subplot()
        for i, run in enumerate(runs):
            if run["failed_gates"]:
                ax.axvspan(i - 0.4, i + 0.4, color="tab:red", alpha=0.12, linewidth=0)
        banded = [(i, p["band"]) for i, p in enumerate(points) if p["band"]]
        if banded:
            ax.fill_between(
                [i for i, _ in banded],
                [b["low"] for _, b in banded],
                [b["high"] for _, b in banded],
                color="tab:blue",
                alpha=0.12,
                step="mid",
                label="noise band",
            )
        known = [
            (i, p["value"]) for i, p in enumerate(points) if p["value"] is not None
        ]
        if known:
            ax.plot(
                *zip(*known, strict=True), marker="o", markersize=3, color="tab:blue"
            )
        hot = [(i, p["value"]) for i, p in enumerate(points) if p["flag"] in _MARK]
        if hot:
            ax.scatter(
                [i for i, _ in hot],
                [v for _, v in hot],
                s=90,
                facecolors="none",
                edgecolors="tab:red",
                linewidths=1.5,
                zorder=3,
                label="beyond the band",
            )
        ax.set_title(series["label"], fontsize=9)
        ax.set_xticks(xs, [r["name"][-18:] for r in runs], rotation=30, ha="right")
        if banded or hot:
            ax.legend(loc="upper left", fontsize=7)
        return _svg(figure)


_CSS: Final = (
    "body{font:14px system-ui,sans-serif;margin:1.5em;color:#222}"
    "table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;"
    "padding:3px 6px;text-align:right}td.l,th.l{text-align:left}"
    ".flag{background:#fdd;font-weight:bold}.failrun{background:#fee}.muted{color:#666}"
    "svg{max-width:100%;height:auto}"
)


def render_html(res: Mapping[str, Any]) -> str:
    """One self-contained page: the table, then a plot per numeric metric."""
    e = html.escape
    runs, series = res["runs"], res["series"]
    head = "".join(f"<th>{e(s['label'])}</th>" for s in series)
    rows = []
    for i, run in enumerate(runs):
        gates = ", ".join(run["failed_gates"])
        verdict = e(str(run["verdict"] or "-")) + (f" ✗ {e(gates)}" if gates else "")
        cells = "".join(
            f'<td class="{"flag" if bad else ""}">{e(text)}</td>'
            for text, bad in (_cell(s["points"][i]) for s in series)
        )
        rows.append(
            f'<tr class="{"failrun" if gates else ""}"><td>{i + 1}</td>'
            f"<td class=l>{e(run['name'])}</td><td class=l>{e(run['started'][:19])}</td>"
            f"<td class=l>{verdict}</td>{cells}</tr>"
        )
    plots = "".join(
        f"<figure>{_plot(s, runs)}</figure>" for s in series if not s["text"]
    )
    flags = "".join(
        f"<li>{e(x[2:])}</li>" for x in _flag_lines(res) if x.startswith("- ")
    )
    notes = (
        "".join(f"<li>{e(r['name'])}: {e(n)}</li>" for r in runs for n in r["notes"])
        + "".join(
            f"<li>{e(m)}: in no run's summary.json, left out</li>"
            for m in res["absent"]
        )
        + "".join(f"<li>left out: {e(x)}</li>" for x in res["skipped"])
    )
    return (
        "<!doctype html><html><head><meta charset=utf-8>"
        f"<title>streamload trend</title><style>{_CSS}</style></head><body>"
        f"<h1>streamload trend: {len(runs)} runs</h1><p class=muted>{e(_rule_line(res))} "
        "Red rows failed gates; red cells moved beyond the band.</p>"
        "<table><tr><th>#</th><th class=l>run</th><th class=l>started (UTC)</th>"
        f"<th class=l>verdict</th>{head}</tr>{''.join(rows)}</table>"
        f"<h2>Beyond the noise band</h2><ul>{flags or '<li>none</li>'}</ul>"
        f"{f'<h2>Notes</h2><ul>{notes}</ul>' if notes else ''}"
        f"<h2>Plots</h2>{plots}</body></html>\n"
    )


# --------------------------------------------------------------------- command line


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="streamload trend",
        description="Chosen metrics over many runs, oldest first: a table, plots, and "
        "the runs that moved beyond the noise band.",
        epilog="metrics: dotted keys of summary.json; '*' for any key (one series each), "
        "'max:' or 'min:' before a key with '*' for the worst/best of them; "
        f"default: {' '.join(DEFAULT_METRICS)}",
    )
    parser.add_argument(
        "runs", nargs="+", metavar="RUN_DIR", help="run directories or globs"
    )
    parser.add_argument(
        "--metric",
        action="append",
        default=None,
        metavar="KEY",
        help="a metric to lay out (repeatable)",
    )
    parser.add_argument(
        "--format",
        choices=("md", "json", "html"),
        default="md",
        help="what stdout gets (default md)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="also write trend.html, trend.md and trend.json here",
    )
    parser.add_argument(
        "--fail-on-change",
        action="store_true",
        help="exit 1 when the newest run is flagged worse or changed",
    )
    parser.add_argument(
        "--k", type=float, default=Rule.k, help="MADs of the band (3.5)"
    )
    parser.add_argument(
        "--band",
        type=float,
        default=Rule.rel,
        help="least band, a ratio of the median (0.2)",
    )
    parser.add_argument(
        "--window",
        type=int,
        default=Rule.window,
        help="earlier runs a run is judged against (10)",
    )
    parser.add_argument(
        "--min-history",
        type=int,
        default=Rule.min_history,
        help="earlier runs needed before judging (3)",
    )
    return parser


def _write(out: Path, res: Mapping[str, Any], md: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name, text in (
        ("trend.md", md),
        ("trend.json", json.dumps(res, indent=1, ensure_ascii=False) + "\n"),
        ("trend.html", render_html(res)),
    ):
        tmp = out / f".{name}.tmp"
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, out / name)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:
        return EXIT_PASS if exc.code == 0 else EXIT_USAGE
    if args.k <= 0 or args.band < 0 or args.window < 1 or args.min_history < 1:
        print(
            "streamload trend: --k > 0, --band >= 0, --window >= 1 and "
            "--min-history >= 1; e.g. --k 3.5 --band 0.2",
            file=sys.stderr,
        )
        return EXIT_USAGE
    rule = Rule(
        k=args.k, rel=args.band, window=args.window, min_history=args.min_history
    )
    skipped: list[str] = []
    try:
        runs = sorted(
            (load_run(p) for p in find_runs(args.runs, skipped)),
            key=lambda r: (r.started, r.name),
        )
        res = result(runs, args.metric, rule, skipped)
    except ConfigError as exc:
        print(f"streamload trend: {exc}", file=sys.stderr)
        return EXIT_USAGE
    md = render_markdown(res)
    shown = {"md": md, "json": json.dumps(res, indent=1, ensure_ascii=False) + "\n"}
    sys.stdout.write(shown.get(args.format) or render_html(res))
    if args.out is not None:
        try:
            _write(args.out, res, md)
        except OSError as exc:
            print(
                f"streamload trend: --out {args.out}: {exc}; pick a writable directory",
                file=sys.stderr,
            )
            return EXIT_USAGE
    return EXIT_FAIL if args.fail_on_change and res["newest_flagged"] else EXIT_PASS


if __name__ == "__main__":
    sys.exit(main())
