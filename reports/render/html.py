"""``report.html``: one self-contained page (inline CSS and SVG, no scripts or URLs).

It opens offline, from a CI artifact or an e-mail attachment, and prints. Every
value comes from the summary, escaped; the plots come from :class:`Plots`.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Final

from reports.coverage import group
from reports.performance import Plots
from reports.render import plots as svg
from reports.render.common import (
    CODEC_COLUMNS,
    audio_cell,
    codec_row,
    failing_rules,
    fmt,
    fmt_ratio,
    gate_label,
    gates_line,
    harness_line,
    headline_notes,
    meta_items,
    producers_line,
    record_line,
    run_line,
    sorted_gates,
)
from reports.render.section import Section, placed


__all__ = ["render"]

_CSS: Final = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;
max-width:1200px;padding:0 1rem;color:#1d2330}
h1{font-size:1.6rem;margin:0 0 .3rem}h2{font-size:1.2rem;margin:2rem 0 .5rem;
border-bottom:1px solid #d8dde6;padding-bottom:.2rem}
.muted{color:#5b6475}
table{border-collapse:collapse;margin:.4rem 0 1rem;font-variant-numeric:tabular-nums}
th,td{border:1px solid #d8dde6;padding:.25rem .5rem;text-align:right;vertical-align:top}
th{background:#f3f5f9}td.l,th.l{text-align:left}
.badge{display:inline-block;padding:.1rem .55rem;border-radius:.3rem;font-weight:600;
font-size:.85em}
.pass{background:#dff3e4;color:#135d2a}.fail{background:#fde2e1;color:#8a1c17}
.warn,.incomplete,.void{background:#fff1d6;color:#7a4b00}.no-data,.not-checked{background:#eceff4;color:#4a5261}
.plots{display:grid;grid-template-columns:repeat(auto-fit,minmax(460px,1fr));gap:1rem}
figure{margin:0}figure svg{max-width:100%;height:auto}figcaption{font-weight:600}
details summary{cursor:pointer}code{font-size:.9em}
header h1{margin-bottom:.2rem}.headline{font-size:1.1rem;margin:.2rem 0 .5rem}
.meta{display:grid;grid-template-columns:repeat(auto-fill,minmax(340px,1fr));
gap:.15rem 1.5rem;margin:.4rem 0}.meta div{display:flex;gap:.6rem}
.meta dt{color:#5b6475;min-width:6.5rem}.meta dd{margin:0;overflow-wrap:anywhere}
tr.gate-fail td{background:#fff6f5}
"""


def render(
    summary: Mapping[str, Any],
    plots: Plots | None = None,
    sections: Sequence[Section] = (),
) -> str:
    """The whole report as one HTML document, with the added ``sections``.

    The first screen answers what ran, whether it passed and why not: the
    verdict and the run's metadata, the gates (failures first, each with where
    it was declared), the rules not checked, then the answer of the job (the
    sections placed ``top``: capacity, codecs side by side); the detail after.
    """
    verdict = str(summary["verdict"])
    body = [
        *_header(summary),
        *_gates(summary["thresholds"]),
        *_not_checked(summary["conformance"]),
        *(section.html for section in placed(sections, "top")),
        *_accounting(summary["accounting"]),
        *_codecs(summary["performance"]),
        *_harness(summary),
        *_plots(plots),
        *_tracks(summary["performance"]["tracks"]),
        *_streams(summary["performance"]["codecs"]),
        *_histograms(summary["performance"].get("receiver_histograms", {})),
        *_requests(summary["performance"]["requests"]),
        *_conformance(summary),
        *(section.html for section in placed(sections, "end")),
    ]
    return (
        "<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width,initial-scale=1">'
        f"<title>streamload report: {_e(verdict)}</title><style>{_CSS}</style>"
        "</head><body>\n" + "\n".join(body) + "\n</body></html>\n"
    )


_LINKS: Final = (
    ("locust", "Locust's report", "{}"),
    ("records", "records", "{}/"),
    ("logs", "logs", "{}/"),
)
"""Files of the run directory worth a click, when the run has them."""


def _header(summary: Mapping[str, Any]) -> list[str]:
    """Verdict, ``N gates, M failed``, what ran, and links to the run's files.

    Links are relative (siblings in the run directory): following one loads
    nothing from elsewhere, and the page itself loads nothing at all.
    """
    verdict = str(summary["verdict"])
    headline = [f"<strong>{_e(gates_line(summary['thresholds']))}</strong>"]
    headline += [_e(note) for note in headline_notes(summary)]
    items = "".join(
        f"<div><dt>{_e(label)}</dt><dd>{_e(text)}</dd></div>"
        for label, text in meta_items(summary)
    )
    files = summary.get("files") or {}
    links = [
        f'<a href="{_e(pattern.format(files[key]))}">{_e(text)}</a>'
        for key, text, pattern in _LINKS
        if files.get(key)
    ] + [f'<a href="{name}">{name}</a>' for name in ("summary.json", "junit.xml")]
    return [
        "<header>",
        f"<h1>streamload report {_badge(verdict, verdict.upper(), 'verdict')}</h1>",
        f"<p class=headline id=headline>{' · '.join(headline)}</p>",
        *(  # why the verdict is incomplete, right under it
            [f"<p><strong>{_e(line)}</strong></p>"]
            if (line := record_line(summary))
            else []
        ),
        f"<dl class=meta id=run-meta>{items}</dl>",
        f"<p class=muted>{_e(run_line(summary))} · {' · '.join(links)}</p>",
        "</header>",
    ]


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _badge(kind: str, text: str | None = None, ident: str = "") -> str:
    at = f" id={ident}" if ident else ""
    return f'<span class="badge {_e(kind)}"{at}>{_e(text or kind)}</span>'


def _table(
    header: Sequence[str],
    rows: Iterable[Sequence[str]],
    left: int | str = 1,
    row_class: Callable[[int], str] | None = None,
) -> str:
    """A table; the first ``left`` columns are text (left-aligned), or ``left``
    spells each column's side (``"llrrll"``); cells pre-escaped;
    ``row_class(i)``: the class of the ``i``-th row (pre-escaped)."""
    sides = left if isinstance(left, str) else "l" * left

    def cells(tag: str, values: Sequence[str]) -> str:
        return "".join(
            f"<{tag}{' class=l' if sides[i : i + 1] == 'l' else ''}>{v}</{tag}>"
            for i, v in enumerate(values)
        )

    head = f"<tr>{cells('th', [_e(h) for h in header])}</tr>"
    body = "".join(
        (f"<tr class={row_class(i)}>" if row_class else "<tr>")
        + cells("td", r)
        + "</tr>"
        for i, r in enumerate(rows)
    )
    return f"<table>{head}{body}</table>"


def _not_checked(conf: Mapping[str, Any]) -> list[str]:
    """Every rule the run could not check and why, on the first screen."""
    entries = conf.get("not_checked_rules", [])
    if not entries:
        return []
    required = sum(bool(e["required"]) for e in entries)
    head = f"{len(entries)} of {conf['rules']} rules not checked" + (
        f", {required} of them required (the run fails)" if required else ""
    )
    items = []
    for rules, reason, fix, must in group(entries):
        badge = _badge("fail", "required") + " " if must else ""
        ids = ", ".join(f"<code>{_e(r)}</code>" for r in rules)
        fixed = f" Fix: {_e(fix)}." if fix != "nothing to fix" else ""
        items.append(f"<li>{badge}{ids}: {_e(reason)}.{fixed}</li>")
    return [
        f"<p><strong>{_e(head)}</strong> {_badge('not-checked', 'not checked')}</p>",
        f"<ul class=not-checked-list>{''.join(items)}</ul>",
    ]


_FOLD_GATES: Final = 10
"""More gates than this: the passed ones fold away, so what failed and the
rules not checked stay on the first screen."""


def _gates(gates: Sequence[Mapping[str, Any]]) -> list[str]:
    """The gates, failures first, each with where it was declared."""
    header = ("result", "gate", "value", "limit", "declared at", "metric")

    def rows(chosen: Sequence[Mapping[str, Any]]) -> str:
        return _table(
            header,
            (
                [
                    _badge(g["result"]),
                    _e(gate_label(g)),
                    _e(fmt(g["value"])),
                    _e(f"{g['op']} {fmt(g['limit'])}"),
                    f"<code>{_e(g.get('source') or '-')}</code>",
                    f"<code>{_e(g['metric'])}</code>",
                ]
                for g in chosen
            ),
            "llrrll",
            row_class=lambda i: f"gate-{_e(chosen[i]['result'])}",
        )

    ordered = sorted_gates(gates)
    out = ["<h2 id=gates>Gates</h2>"]
    passed = [g for g in ordered if g["result"] == "pass"]
    if len(ordered) <= _FOLD_GATES or not passed:
        return [*out, rows(ordered)]
    others = ordered[: len(ordered) - len(passed)]
    if others:
        out.append(rows(others))
    return [
        *out,
        f"<details><summary>{_e(len(passed))} gates passed</summary>"
        f"{rows(passed)}</details>",
    ]


def _accounting(acc: Mapping[str, Any]) -> list[str]:
    keys = (
        ("requests_started_ok", "start requests OK"),
        ("streams_platform", "platform streams"),
        ("streams_received", "streams received"),
        ("streams_stopped", "streams stopped"),
        ("never_arrived", "never arrived"),
        ("without_stop", "without stop"),
        ("unaccounted", "unaccounted"),
        ("frames_sent", "frames sent"),
        ("frames_received", "frames received"),
    )
    out = [
        "<h2>Accounting</h2>",
        _table([label for _, label in keys], [[_e(fmt(acc[k])) for k, _ in keys]], 0),
    ]
    examples = acc.get("unaccounted_examples") or []
    if examples:
        rows = [
            [_e(e["stream_sid"] or "-"), _e(e["request_id"] or "-"), _e(e["reason"])]
            for e in examples
        ]
        out.append(_table(("stream sid", "request id", "why"), rows, 3))
    return out


def _codecs(performance: Mapping[str, Any]) -> list[str]:
    basis = performance.get("basis", {})
    note = (
        f"Loss from {basis.get('loss') or 'no data'}; latency from "
        f"{basis.get('latency') or 'no send log (see relative transit below)'}."
    )
    rows = [
        [_e(c) for c in codec_row(codec, entry)]
        for codec, entry in performance["codecs"].items()
    ]
    harness = performance.get("harness")
    badge = (
        _badge("fail", "harness saturated")
        if harness and harness.get("saturated")
        else ""
    )
    return [
        "<h2>Media per codec</h2>",
        f"<p class=muted>{_e(note)}</p>",
        f"<p>{badge} {_e(harness_line(harness))}</p>",
        _table(CODEC_COLUMNS, rows) if rows else "<p>No streams.</p>",
    ]


def _harness(summary: Mapping[str, Any]) -> list[str]:
    """The producers' own CPU, loop lag and GC, beside the platform's pacing."""
    harness = summary["performance"].get("harness")
    if not harness or not harness.get("producers"):
        return [f"<p class=muted>{_e(producers_line(summary))}</p>"]
    rows = [
        [
            _e(name),
            _e(p["kind"]),
            _e(fmt(p["samples"])),
            _e(
                f"{fmt(p['loop_cpu']['p50'])} / {fmt(p['loop_cpu']['p90'])} / "
                f"{fmt(p['loop_cpu']['max'])}"
            ),
            _e(fmt(p["process_cpu"]["p90"])),
            _e(f"{fmt(p['lag_ms']['p99'])} / {fmt(p['lag_ms']['max'])}"),
            _e(f"{fmt(p['gc']['pauses'])} / {fmt(p['gc']['max_ms'])}"),
            _e(fmt(p["rss_max_mb"])),
        ]
        for name, p in harness["producers"].items()
    ]
    header = (
        "producer",
        "kind",
        "seconds",
        "loop CPU p50 / p90 / max",
        "process CPU p90",
        "loop lag p99 / max ms",
        "GC passes / max ms",
        "RSS max MB",
    )
    return [
        "<h2>Harness health</h2>",
        f"<p class=muted>{_e(producers_line(summary))}</p>",
        _table(header, rows, 2),
    ]


def _streams(codecs: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Per-stream distributions: setup, stop, duration, size and real-time factor."""
    keys = (
        ("setup_ms", "setup ms"),
        ("first_media_ms", "first media ms"),
        ("stop_ms", "stop ms"),
        ("duration_ms", "duration ms"),
        ("stream_frames", "frames"),
        ("stream_bytes", "bytes"),
        ("realtime_factor", "real-time factor"),
    )
    rows = [
        [_e(codec), _e(label)]
        + [_e(fmt(e[key].get(p))) for p in ("p50", "p90", "p99", "min", "max")]
        for codec, e in codecs.items()
        for key, label in keys
        if key in e and e[key].get("count")
    ]
    if not rows:
        return []
    header = ("codec", "per stream", "p50", "p90", "p99", "min", "max")
    return ["<h2>Streams</h2>", _table(header, rows, 2)]


def _histograms(by_codec: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> list[str]:
    """The receivers' merged histograms (no per-frame data needed)."""
    rows = [
        [_e(codec), _e(track), _e(metric)]
        + [_e(fmt(h.get(p))) for p in ("count", "p50", "p99", "p999", "max")]
        for codec, tracks in by_codec.items()
        for track, metrics in tracks.items()
        for metric, h in metrics.items()
    ]
    if not rows:
        return []
    header = (
        "codec",
        "track",
        "metric",
        "count",
        "p50 ms",
        "p99 ms",
        "p99.9 ms",
        "max ms",
    )
    return [
        "<h2>Receiver histograms</h2>",
        "<p class=muted>Merged from every receiver process; within one bucket "
        "(1 µs below 2 ms, 0.1 % above).</p>",
        _table(header, rows, 3),
    ]


def _plots(plots: Plots | None) -> list[str]:
    """Every plot as inline SVG; one without data is a one-line "not shown" note."""
    if plots is None:
        return []
    items = []
    notes = []
    for figure in svg.figures(plots):
        if figure.svg is None:
            notes.append(f"<li>{_e(figure.title)}: not shown: {_e(figure.why)}.</li>")
        else:
            items.append(
                f"<figure><figcaption>{_e(figure.title)}</figcaption>"
                f"{figure.svg}</figure>"
            )
    return [
        "<h2>Plots</h2>",
        *([f"<div class=plots>{''.join(items)}</div>"] if items else []),
        *([f"<ul class=muted>{''.join(notes)}</ul>"] if notes else []),
    ]


def _tracks(tracks: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> list[str]:
    header = (
        "codec",
        "track",
        "streams",
        "frames",
        "sent",
        "loss",
        "dups",
        "reordered",
        "latency p99 ms",
        "relative transit p99 ms",
        "jitter p99 ms",
        "interarrival p50 / p99 ms",
        "lateness p99 ms",
        "loss bursts / longest",
        "audio",
    )
    rows = [
        [
            _e(codec),
            _e(track),
            *(_e(fmt(m[k])) for k in ("streams", "frames", "frames_sent")),
            _e(fmt_ratio(m["loss_ratio"])),
            _e(fmt(m["duplicates"])),
            _e(fmt(m["reordered"])),
            _e(fmt(m["latency_ms"]["p99"])),
            _e(fmt(m["transit_relative_ms"]["p99"])),
            _e(fmt(m["jitter_ms"]["p99"])),
            _e(
                f"{fmt(m['interarrival_ms']['p50'])} / "
                f"{fmt(m['interarrival_ms']['p99'])}"
            ),
            _e(fmt(m.get("lateness_ms", {}).get("p99"))),
            _e(
                f"{fmt(m.get('loss_bursts', {}).get('count'))} / "
                f"{fmt(m.get('loss_bursts', {}).get('longest'))}"
            ),
            _e(audio_cell(m.get("audio"))),
        ]
        for codec, by_track in tracks.items()
        for track, m in by_track.items()
    ]
    if not rows:
        return []
    return ["<h2>Media per codec and track</h2>", _table(header, rows, 2)]


def _requests(requests: Mapping[str, Any]) -> list[str]:
    if not requests["count"]:
        return ["<h2>Requests</h2>", "<p>No requests recorded.</p>"]
    rows = [
        [
            _e(kind),
            _e(fmt(b["count"])),
            _e(fmt(b["errors"])),
            _e(", ".join(f"{s}: {n}" for s, n in b["statuses"].items())),
            *(_e(fmt(b["latency_ms"][p])) for p in ("p50", "p95", "p99", "max")),
            _e(fmt(b["from_due_ms"]["p99"])),
        ]
        for kind, b in requests["by_kind"].items()
    ]
    header = (
        "kind",
        "count",
        "errors",
        "statuses",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "max ms",
        "p99 from due ms",
    )
    out = ["<h2>Requests</h2>", _table(header, rows, 1)]
    if requests["top_errors"]:
        errors = [[_e(e["error"]), _e(fmt(e["count"]))] for e in requests["top_errors"]]
        out.append(_table(("error", "count"), errors, 1))
    return out


def _conformance(summary: Mapping[str, Any]) -> list[str]:
    conf = summary["conformance"]
    failing = {rule_id for rule_id, _ in failing_rules(summary)}
    rows = []
    for rule_id, r in conf["results"].items():
        readings = ", ".join(f"{k} ({n})" for k, n in r["readings"].items())
        detail = _e(r["statement"])
        if r["evidence"]:
            evidence = _table(
                ("subject", "seq", "expected", "actual"),
                (
                    [
                        _e(e["subject"]),
                        _e(fmt(e["seq"])),
                        _e(e["expected"]),
                        _e(e["actual"]),
                    ]
                    for e in r["evidence"]
                ),
                4,
            )
            opened = " open" if rule_id in failing else ""
            detail += (
                f"<details{opened}><summary>evidence</summary>{evidence}</details>"
            )
        rows.append(
            [
                f"<code>{_e(rule_id)}</code>",
                _badge(r["verdict"]),
                _e(r["severity"]),
                _e(r["section"]) + _doc_links(r.get("docs", [])),
                detail,
                _e(readings),
                _e(fmt(r["checks"])),
                _e(fmt(r["failures"])),
            ]
        )
    line = (
        f"{conf['rules']} rules in the catalog: {conf['passed']} passed, "
        f"{conf['failed']} failed, {conf['warnings']} warnings, "
        f"{conf['not_checked']} not checked."
    )
    header = (
        "rule",
        "verdict",
        "severity",
        "section",
        "statement",
        "readings",
        "checks",
        "failures",
    )
    return ["<h2>Conformance</h2>", f"<p>{_e(line)}</p>", _table(header, rows, 6)]


def _doc_links(docs: Sequence[Mapping[str, str]]) -> str:
    """The public pages a rule's section rests on, as links (after the section)."""
    return "".join(f'<br><a href="{_e(d["url"])}">{_e(d["title"])}</a>' for d in docs)
