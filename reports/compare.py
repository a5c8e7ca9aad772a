"""Compare runs, or codecs within one run, with a noise band: what got worse, by how much.

``python -m reports.compare BASE NEW`` (``streamload compare``) reads two run
directories' ``summary.json`` and lists, per codec and per metric, the change
from BASE to NEW. A change is a **regression** only when it is worse by more
than the noise band: ``max(band x |base|, floor)``, where the floor is a
metric's smallest meaningful change (2 ms for latencies, 0.001 for ratios), and
only when both runs have enough samples for that statistic (a p99 of 20 values
is one value, not a percentile). Gates that passed in BASE and fail in NEW are
regressions too. Exit 0 when nothing regressed, 1 when something did, 2 when a
run directory has no summary.

:func:`compare_codecs` lays the codecs of one run side by side against a
baseline codec with the same band (the ``codec-compare`` profile's section).
"""

from __future__ import annotations

import argparse
import html
import json
import math
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final, Literal

from harness.core.errors import ConfigError
from harness.core.exits import EXIT_FAIL, EXIT_PASS, EXIT_USAGE
from harness.core.trend import at_path
from reports.inputs import need, read_json


__all__ = [
    "METRICS",
    "compare_codecs",
    "compare_runs",
    "main",
    "render_codec_html",
    "render_codec_markdown",
    "render_markdown",
]

Json = dict[str, Any]
Better = Literal["lower", "higher"]

_MS_FLOOR: Final = 2.0
_RATIO_FLOOR: Final = 0.001
_MIN_SAMPLES: Final = {
    "p50": 5,
    "p90": 20,
    "p95": 20,
    "p99": 100,
    "p999": 1000,
    "max": 100,
}
"""Samples both runs need before a statistic is compared (else: not enough data)."""

_SETUP_FLOOR: Final = 50.0
"""Setup, first-media and stop medians rest on few streams in a short run and move
by tens of ms between identical runs on a shared host: smaller moves are noise."""

METRICS: Final[tuple[tuple[str, Better, float], ...]] = (
    # (path under performance.codecs.<codec>, which way is better, floor);
    # tails move more than medians between identical runs on a shared machine
    ("latency_ms.p50", "lower", _MS_FLOOR),
    ("latency_ms.p99", "lower", _MS_FLOOR * 10),
    ("transit_relative_ms.p99", "lower", _MS_FLOOR * 10),
    ("jitter_ms.p50", "lower", 1.0),
    ("jitter_ms.p99", "lower", _MS_FLOOR * 2.5),
    ("interarrival_ms.p99", "lower", _MS_FLOOR * 10),
    ("setup_ms.p50", "lower", _SETUP_FLOOR),
    ("setup_ms.p99", "lower", _MS_FLOOR * 50),
    ("first_media_ms.p50", "lower", _SETUP_FLOOR),
    ("stop_ms.p50", "lower", _SETUP_FLOOR),
    ("loss_ratio", "lower", _RATIO_FLOOR),
    ("duplicates", "lower", 1.0),
    ("reordered", "lower", 1.0),
)
"""Per-codec metrics compared, with the direction that is better and the floor."""

_RUN_METRICS: Final[tuple[tuple[str, str, Better, float], ...]] = (
    ("requests.error_ratio", "performance.requests.error_ratio", "lower", _RATIO_FLOOR),
    (
        "requests.latency_ms.p50{kind=start}",
        "performance.requests.by_kind.start.latency_ms.p50",
        "lower",
        _MS_FLOOR,
    ),
    (
        "requests.latency_ms.p99{kind=start}",
        "performance.requests.by_kind.start.latency_ms.p99",
        "lower",
        _MS_FLOOR * 5,
    ),
    (
        "requests.from_due_ms.p99",
        "performance.requests.from_due_ms.p99",
        "lower",
        _MS_FLOOR * 5,
    ),
    ("conformance.failed", "conformance.failed", "lower", 0.5),
    ("accounting.unaccounted", "accounting.unaccounted", "lower", 0.5),
)
"""Whole-run metrics compared: (label, summary path, better, floor)."""


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _samples(entry: Any, path: str) -> int | None:
    """How many values a distribution statistic summarises; ``None`` for plain numbers."""
    head, _, stat = path.rpartition(".")
    if stat not in _MIN_SAMPLES:
        return None
    count = at_path(entry, f"{head}.count")
    return int(count) if isinstance(count, int) else 0


def judge(
    base: float | None,
    new: float | None,
    better: Better,
    floor: float,
    band: float,
    enough: bool = True,
) -> Json:
    """One comparison: values, delta, relative change, and a verdict.

    Verdicts: ``regressed`` or ``improved`` (beyond the band), ``same`` (within
    it), ``no-data`` (a value missing) or ``too-few`` (not enough samples).
    :func:`compare_runs` turns a timing regression into ``suspect`` when either
    run's harness was saturated and the change is within the delay (loop lag,
    pacing p99) that saturation added.
    """
    out: Json = {"base": base, "new": new, "delta": None, "change": None, "band": None}
    if base is None or new is None:
        out["verdict"] = "no-data"
        return out
    delta = new - base
    allowed = max(band * abs(base), floor)
    out.update(
        delta=round(delta, 6),
        change=round(delta / abs(base), 4) if base else None,
        band=round(allowed, 6),
    )
    worse = delta if better == "lower" else -delta
    if not enough:
        out["verdict"] = "too-few"
    elif worse > allowed:
        out["verdict"] = "regressed"
    elif -worse > allowed:
        out["verdict"] = "improved"
    else:
        out["verdict"] = "same"
    return out


_PER_STREAM: Final = ("setup_ms", "first_media_ms", "stop_ms")
"""One value per stream, not per frame: a smoke run has a handful per codec."""


def _enough(a: Any, b: Any, path: str) -> bool:
    stat = path.rpartition(".")[2]
    need = _MIN_SAMPLES.get(stat)
    if need is None:
        return True
    if path.split(".")[0] in _PER_STREAM:
        need *= 6  # per-stream times swing with whatever else the host does

    na, nb = _samples(a, path), _samples(b, path)
    return (na or 0) >= need and (nb or 0) >= need


def compare_runs(
    base: Mapping[str, Any], new: Mapping[str, Any], band: float = 0.2
) -> Json:
    """Every compared metric of two summaries, and the regressions among them."""
    rows: list[Json] = []
    base_codecs = at_path(base, "performance.codecs") or {}
    new_codecs = at_path(new, "performance.codecs") or {}
    for codec in sorted(set(base_codecs) & set(new_codecs)):
        a, b = base_codecs[codec], new_codecs[codec]
        for path, better, floor in METRICS:
            row = judge(
                _number(at_path(a, path)),
                _number(at_path(b, path)),
                better,
                floor,
                band,
                _enough(a, b, path),
            )
            rows.append({"codec": codec, "metric": path, **row})
    for label, path, better, floor in _RUN_METRICS:
        row = judge(
            _number(at_path(base, path)),
            _number(at_path(new, path)),
            better,
            floor,
            band,
            _enough(base, new, path),
        )
        rows.append({"codec": None, "metric": label, **row})
    saturated = [
        name
        for name, doc in (("BASE", base), ("NEW", new))
        if at_path(doc, "performance.harness.saturated") is True
    ]
    slack = max((_harness_delay_ms(d) for d in (base, new)), default=0.0)
    for r in rows:
        # a change no bigger than the delay a saturated harness itself added is
        # the harness's, not the platform's: show it, but do not count it
        if (
            saturated
            and r["verdict"] == "regressed"
            and "_ms" in r["metric"]
            and abs(r["delta"]) <= slack
        ):
            r["verdict"] = "suspect"
    gates = _gate_changes(base, new)
    regressions = [r for r in rows if r["verdict"] == "regressed"]
    return {
        "saturated": saturated,
        "band": band,
        "base": at_path(base, "run.run_id"),
        "new": at_path(new, "run.run_id"),
        "base_verdict": base.get("verdict"),
        "new_verdict": new.get("verdict"),
        "codecs_only_in_base": sorted(set(base_codecs) - set(new_codecs)),
        "codecs_only_in_new": sorted(set(new_codecs) - set(base_codecs)),
        "rows": rows,
        "newly_failing_gates": gates,
        "regressions": len(regressions) + len(gates),
        "verdict": "regressed" if regressions or gates else "same-or-better",
    }


def _harness_delay_ms(summary: Mapping[str, Any]) -> float:
    """The most delay the harness of a saturated run may have added (lag, pacing p99)."""
    harness = at_path(summary, "performance.harness")
    if not isinstance(harness, Mapping) or harness.get("saturated") is not True:
        return 0.0
    values = [_number(at_path(harness, "pacing_ms.p99"))]
    values += [
        _number(at_path(p, "lag_ms.p99"))
        for p in (harness.get("producers") or {}).values()
    ]
    return max((v for v in values if v is not None), default=0.0)


def _gate_key(gate: Mapping[str, Any]) -> tuple[str, str]:
    return (str(gate.get("name")), str(gate.get("metric")))


def _gate_changes(base: Mapping[str, Any], new: Mapping[str, Any]) -> list[Json]:
    """Gates that fail in NEW but did not in BASE (or did not exist there)."""
    before = {_gate_key(g): g.get("result") for g in base.get("thresholds") or []}
    return [
        {
            "name": g.get("name"),
            "metric": g.get("metric"),
            "base": before.get(_gate_key(g), "absent"),
            "message": g.get("message"),
        }
        for g in new.get("thresholds") or []
        if g.get("result") == "fail" and before.get(_gate_key(g)) != "fail"
    ]


def compare_codecs(
    summary: Mapping[str, Any], baseline: str = "PCMU", band: float = 0.2
) -> Json:
    """Each codec of one run against ``baseline``, metric by metric."""
    found = at_path(summary, "performance.codecs") or {}
    order = sorted(found, key=lambda name: (name != baseline, name))
    codecs = {name: found[name] for name in order if name != "unknown"}
    base = codecs.get(baseline)
    table: dict[str, dict[str, Json]] = {}
    for codec, entry in codecs.items():
        cells: dict[str, Json] = {}
        for path, better, floor in METRICS:
            value = _number(at_path(entry, path))
            if base is None or codec == baseline:
                cells[path] = {
                    "value": value,
                    "verdict": "baseline" if codec == baseline else "no-data",
                }
                continue
            row = judge(
                _number(at_path(base, path)),
                value,
                better,
                floor,
                band,
                _enough(base, entry, path),
            )
            cells[path] = {
                "value": value,
                **{k: row[k] for k in ("delta", "change", "verdict")},
            }
        table[codec] = cells
    worse = {
        codec: [m for m, c in cells.items() if c.get("verdict") == "regressed"]
        for codec, cells in table.items()
    }
    return {
        "baseline": baseline if base is not None else None,
        "band": band,
        "metrics": [m for m, _, _ in METRICS],
        "codecs": table,
        "worse_than_baseline": {c: m for c, m in worse.items() if m},
    }


# --------------------------------------------------------------------- rendering


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.3f}".rstrip("0").rstrip(".")
    return str(value)


def _pct(change: Any) -> str:
    return "" if change is None else f" ({change * 100:+.0f} %)"


def render_markdown(result: Mapping[str, Any], *, all_rows: bool = False) -> str:
    """The comparison for a terminal or a CI job summary."""
    lines = [
        f"# streamload compare: {result['verdict'].upper()}",
        "",
        f"BASE {result['base'] or '?'} ({result['base_verdict']}) -> "
        f"NEW {result['new'] or '?'} ({result['new_verdict']}); noise band "
        f"{result['band'] * 100:g} % or the metric's floor.",
        "",
    ]
    if result.get("saturated"):
        lines += [
            f"**Harness saturated in {' and '.join(result['saturated'])}**: timing "
            "changes within the delay it added itself are suspect and do not count.",
            "",
        ]
    shown = [
        r
        for r in result["rows"]
        if all_rows or r["verdict"] in ("regressed", "improved", "suspect")
    ]
    if shown:
        lines += [
            "| verdict | codec | metric | base | new | change |",
            "|---|---|---|---|---|---|",
        ]
        lines += [
            f"| {'**REGRESSED**' if r['verdict'] == 'regressed' else r['verdict']} | "
            f"{r['codec'] or 'run'} | {r['metric']} | {_fmt(r['base'])} | {_fmt(r['new'])} | "
            f"{_fmt(r['delta'])}{_pct(r['change'])} |"
            for r in sorted(
                shown,
                key=lambda r: (
                    ("regressed", "suspect").index(r["verdict"])
                    if r["verdict"] in ("regressed", "suspect")
                    else 2
                ),
            )
        ]
    else:
        lines.append("No metric moved beyond the noise band.")
    counts: dict[str, int] = {}
    for r in result["rows"]:
        counts[r["verdict"]] = counts.get(r["verdict"], 0) + 1
    lines += [
        "",
        "Compared: " + ", ".join(f"{n} {v}" for v, n in sorted(counts.items())) + ".",
    ]
    if result["newly_failing_gates"]:
        lines += ["", "Gates failing in NEW that did not fail in BASE:", ""]
        lines += [
            f"- {g['name']}: {g['message']}" for g in result["newly_failing_gates"]
        ]
    for key, what in (
        ("codecs_only_in_base", "only in BASE"),
        ("codecs_only_in_new", "only in NEW"),
    ):
        if result[key]:
            lines += ["", f"Codecs {what}: {', '.join(result[key])}"]
    return "\n".join(lines) + "\n"


_SHORT: Final = {
    "latency_ms.p50": "latency p50 ms",
    "latency_ms.p99": "latency p99 ms",
    "transit_relative_ms.p99": "transit p99 ms",
    "jitter_ms.p50": "jitter p50 ms",
    "jitter_ms.p99": "jitter p99 ms",
    "interarrival_ms.p99": "inter-arrival p99 ms",
    "setup_ms.p50": "setup p50 ms",
    "setup_ms.p99": "setup p99 ms",
    "first_media_ms.p50": "first media p50 ms",
    "stop_ms.p50": "stop p50 ms",
    "loss_ratio": "loss ratio",
    "duplicates": "duplicates",
    "reordered": "reordered",
}


def _codec_cell(cell: Mapping[str, Any]) -> tuple[str, bool]:
    text = _fmt(cell.get("value"))
    if cell.get("verdict") not in (None, "baseline", "no-data"):
        text += _pct(cell.get("change"))
    return text, cell.get("verdict") == "regressed"


def render_codec_markdown(section: Mapping[str, Any]) -> list[str]:
    """The codec comparison as Markdown lines (a report section)."""
    codecs = list(section["codecs"])
    if not codecs:
        return []
    baseline = section["baseline"]
    lines = [
        "",
        "## Codecs side by side",
        "",
        f"Each codec against {baseline or '(no baseline codec in this run)'}; "
        f"**bold** is worse beyond the noise band ({section['band'] * 100:g} % or the metric's floor).",
        "",
        "| metric | " + " | ".join(codecs) + " |",
        "|---|" + "---|" * len(codecs),
    ]
    for metric in section["metrics"]:
        cells = []
        for codec in codecs:
            text, bad = _codec_cell(section["codecs"][codec][metric])
            cells.append(f"**{text}**" if bad else text)
        lines.append(f"| {_SHORT.get(metric, metric)} | " + " | ".join(cells) + " |")
    return lines


def render_codec_html(section: Mapping[str, Any]) -> str:
    """The codec comparison as an HTML fragment (escaped)."""
    codecs = list(section["codecs"])
    if not codecs:
        return ""
    e = html.escape
    head = "".join(f"<th>{e(c)}</th>" for c in codecs)
    rows = []
    for metric in section["metrics"]:
        cells = []
        for codec in codecs:
            text, bad = _codec_cell(section["codecs"][codec][metric])
            cells.append(f'<td class="{"fail" if bad else ""}">{e(text)}</td>')
        rows.append(
            f"<tr><td class=l>{e(_SHORT.get(metric, metric))}</td>{''.join(cells)}</tr>"
        )
    return (
        "<h2>Codecs side by side</h2>"
        f"<p class=muted>Each codec against {e(str(section['baseline']))}; red is worse beyond "
        f"the noise band ({section['band'] * 100:g} % or the metric's floor).</p>"
        f"<table><tr><th class=l>metric</th>{head}</tr>{''.join(rows)}</table>"
    )


# --------------------------------------------------------------------- command line


_SUMMARY_FIX: Final = (
    "pass a run directory or the summary.json streamload wrote "
    "('streamload report DIR' rebuilds it)"
)
_SUMMARY_SHAPE: Final = (
    ("performance", "object", ""),
    ("performance.codecs", "object", "object"),
    ("performance.harness", "object", ""),
    ("performance.harness.producers", "object", ""),
    ("run", "object", ""),
    ("thresholds", "array", "object"),
)
"""(field, JSON type, type of each element) of every summary field compare walks
into; other fields are read as numbers or text where found, else "no data"."""


def _load(path: Path) -> Json:
    """The summary of a run directory (or a summary file), checked for shape.

    Raises:
        ConfigError: the file is missing, unreadable, not JSON, too deep, or a
            field compare walks into has the wrong type (named).
    """
    summary = path / "summary.json" if path.is_dir() else path
    if not summary.is_file():
        raise ConfigError(str(path), "has no readable summary.json", _SUMMARY_FIX)
    doc = read_json(summary, _SUMMARY_FIX)
    if not isinstance(doc, dict):
        raise ConfigError(
            str(summary), "is not a summary (not a JSON object)", _SUMMARY_FIX
        )
    for field, kind, each in _SUMMARY_SHAPE:
        need(doc, field, kind, summary, _SUMMARY_FIX, each=each)
    return doc


class SystemExit2(Exception):
    """A usage error: the message names the fix."""


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="streamload compare",
        description="Compare two runs per codec and metric; exit 1 on a regression.",
    )
    parser.add_argument(
        "base", type=Path, metavar="BASE", help="the reference run directory"
    )
    parser.add_argument("new", type=Path, metavar="NEW", help="the run to judge")
    parser.add_argument(
        "--band",
        type=float,
        default=0.2,
        help="relative noise band (default 0.2: 20 %% worse before it counts)",
    )
    parser.add_argument("--all", action="store_true", help="list unchanged metrics too")
    parser.add_argument(
        "--json", type=Path, default=None, help="also write the comparison as JSON"
    )
    parser.add_argument(
        "--md", type=Path, default=None, help="also write the Markdown to a file"
    )
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return EXIT_PASS if exc.code == 0 else EXIT_USAGE
    if not 0 <= args.band <= 10:
        print(
            "streamload compare: --band: use a ratio from 0 to 10, e.g. 0.2",
            file=sys.stderr,
        )
        return EXIT_USAGE
    try:
        result = compare_runs(_load(args.base), _load(args.new), args.band)
    except (SystemExit2, ConfigError) as exc:
        print(f"streamload compare: {exc}", file=sys.stderr)
        return EXIT_USAGE
    text = render_markdown(result, all_rows=args.all)
    sys.stdout.write(text)
    for path, content in (
        (args.json, json.dumps(result, indent=1) + "\n"),
        (args.md, text),
    ):
        if path is not None:
            tmp = path.with_name(f".{path.name}.tmp")
            tmp.write_text(content, encoding="utf-8")
            os.replace(tmp, path)
    return EXIT_FAIL if result["verdict"] == "regressed" else EXIT_PASS


if __name__ == "__main__":
    sys.exit(main())
