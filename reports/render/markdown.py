"""``report.md``: the verdict and what broke, short enough for a CI job summary."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

from reports.coverage import group
from reports.render.common import (
    CODEC_COLUMNS,
    codec_row,
    failing_rules,
    fmt,
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

_CELL_CHARS: Final = 120
_TAG: Final = re.compile(r"<(?=[A-Za-z/!?])")
"""A ``<`` that could open an HTML tag (a ``<=`` in a limit stays readable)."""


def render(summary: Mapping[str, Any], sections: Sequence[Section] = ()) -> str:
    """The whole report as GitHub-flavoured Markdown, with the added ``sections``.

    Its top answers what ran, whether it passed and why not (as the HTML's
    first screen): verdict, ``N gates, M failed``, the run's metadata, the
    gates with failures first, the rules not checked, then the sections
    placed ``top`` (the job's answer), then the detail.
    """
    lines = [
        f"# streamload report: {summary['verdict'].upper()}",
        "",
        " · ".join(
            [f"**{gates_line(summary['thresholds'])}**", *headline_notes(summary)]
        ),
        "",
    ]
    incomplete = record_line(summary)
    if incomplete:  # why the verdict is incomplete, right under it
        lines += [f"**{_TAG.sub('&lt;', incomplete)}**", ""]
    lines += [
        *(f"- {label}: {_inline(text)}" for label, text in meta_items(summary)),
        "",
        _inline(run_line(summary)) + _links(summary),
    ]
    lines += _gates(summary["thresholds"])
    lines += _not_checked(summary["conformance"])
    for section in placed(sections, "top"):
        lines += section.markdown
    lines += _accounting(summary["accounting"])
    lines += _codecs(summary["performance"])
    lines += ["", producers_line(summary)]
    lines += _requests(summary["performance"]["requests"])
    lines += _conformance(summary)
    for section in placed(sections, "end"):
        lines += section.markdown
    return "\n".join(lines) + "\n"


def _inline(text: str) -> str:
    """Text safe on one Markdown line: no live HTML, no line breaks."""
    return " ".join(_TAG.sub("&lt;", text).split())


_LINKS: Final = (("locust", "Locust's report", "{}"), ("records", "records", "{}/"))


def _links(summary: Mapping[str, Any]) -> str:
    """Relative links to the run's files (they resolve beside ``report.md``)."""
    files = summary.get("files") or {}
    links = [
        f"[{text}]({pattern.format(files[key])})"
        for key, text, pattern in _LINKS
        if files.get(key)
    ]
    return "".join(f" · {link}" for link in links)


def _cell(value: object) -> str:
    """Table-safe text: no pipes, newlines or live HTML; bounded length."""
    text = str(value).replace("\\", "\\\\").replace("|", "\\|")
    text = _TAG.sub("&lt;", text)
    text = " ".join(text.split())
    if len(text) > _CELL_CHARS:
        text = text[: _CELL_CHARS - 1] + "…"
    return text


def _count(n: int, noun: str) -> str:
    return f"{fmt(n)} {noun}" + ("" if n == 1 else "s")


def _table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> list[str]:
    out = [
        "| " + " | ".join(_cell(h) for h in header) + " |",
        "|" + "---|" * len(header),
    ]
    out += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return out


def _not_checked(conf: Mapping[str, Any]) -> list[str]:
    """Every rule the run could not check and why, on the first screen."""
    entries = conf.get("not_checked_rules", [])
    if not entries:
        return []
    required = sum(bool(e["required"]) for e in entries)
    head = (
        f"**{len(entries)} of {conf['rules']} rules not checked**"
        + (f", {required} of them required (the run fails)" if required else "")
        + ":"
    )
    lines = ["", head, ""]
    for rules, reason, fix, must in group(entries):
        text = " ".join(_TAG.sub("&lt;", f"{reason}.").split())
        if fix != "nothing to fix":
            text += " Fix: " + " ".join(_TAG.sub("&lt;", fix).split()) + "."
        lines.append(f"- {'**REQUIRED** ' if must else ''}{', '.join(rules)}: {text}")
    return lines


def _gates(gates: Sequence[Mapping[str, Any]]) -> list[str]:
    """Every gate, failures first, each with where it was declared."""
    lines = ["", "## Gates", ""]
    return lines + _table(
        ("result", "gate", "value", "limit", "declared at", "metric"),
        (
            (
                g["result"].upper() if g["result"] == "fail" else g["result"],
                gate_label(g),
                fmt(g["value"]),
                f"{g['op']} {fmt(g['limit'])}",
                g.get("source") or "-",
                g["metric"],
            )
            for g in sorted_gates(gates)
        ),
    )


def _accounting(acc: Mapping[str, Any]) -> list[str]:
    lines = ["", "## Accounting", ""]
    lines += _table(
        (
            "started OK",
            "platform streams",
            "received",
            "stopped",
            "unaccounted",
            "frames sent",
            "frames received",
        ),
        [
            [
                fmt(acc["requests_started_ok"]),
                fmt(acc["streams_platform"]),
                fmt(acc["streams_received"]),
                fmt(acc["streams_stopped"]),
                fmt(acc["unaccounted"]),
                fmt(acc["frames_sent"]),
                fmt(acc["frames_received"]),
            ]
        ],
    )
    examples = acc.get("unaccounted_examples") or []
    if examples:
        lines += ["", "Unaccounted streams (examples):", ""]
        lines += [
            f"- `{_cell(e['stream_sid'] or '-')}` request `{_cell(e['request_id'] or '-')}`: "
            f"{e['reason']}"
            for e in examples
        ]
    return lines


def _codecs(performance: Mapping[str, Any]) -> list[str]:
    codecs = performance["codecs"]
    basis = performance.get("basis", {})
    lines = ["", "## Media per codec", ""]
    if not codecs:
        return lines + ["No streams."]
    lines += [
        f"Loss from {basis.get('loss') or 'no data'}; "
        f"latency from {basis.get('latency') or 'no send log (see transit_relative_ms)'}.",
        "",
    ]
    lines += [harness_line(performance.get("harness")), ""]
    lines += _table(CODEC_COLUMNS, (codec_row(c, e) for c, e in codecs.items()))
    return lines + _streams(codecs)


def _streams(codecs: Mapping[str, Any]) -> list[str]:
    """Per-stream distributions per codec: how long streams took to set up and ran."""
    rows = [
        (
            codec,
            f"{fmt(e['first_media_ms']['p50'])} / {fmt(e['first_media_ms']['p99'])}",
            f"{fmt(e['stop_ms']['p50'])} / {fmt(e['stop_ms']['p99'])}",
            fmt(e["duration_ms"]["p50"]),
            fmt(e["stream_frames"]["p50"]),
            f"{fmt(e['realtime_factor']['p50'])} / {fmt(e['realtime_factor']['min'])}",
            fmt(e["loss_bursts"]["longest"]),
        )
        for codec, e in codecs.items()
        if "duration_ms" in e and "loss_bursts" in e
    ]
    if not rows:
        return []
    header = (
        "codec",
        "first media p50 / p99 ms",
        "stop p50 / p99 ms",
        "duration p50 ms",
        "frames p50",
        "real-time factor p50 / min",
        "longest loss burst",
    )
    return ["", "Per stream:", "", *_table(header, rows)]


def _requests(requests: Mapping[str, Any]) -> list[str]:
    lines = ["", "## Requests", ""]
    if not requests["count"]:
        return lines + ["No requests recorded."]
    rows = [
        (
            kind,
            fmt(block["count"]),
            fmt(block["errors"]),
            ", ".join(f"{s}: {n}" for s, n in block["statuses"].items()),
            fmt(block["latency_ms"]["p50"]),
            fmt(block["latency_ms"]["p99"]),
            fmt(block["from_due_ms"]["p99"]),
        )
        for kind, block in requests["by_kind"].items()
    ]
    return lines + _table(
        ("kind", "count", "errors", "statuses", "p50 ms", "p99 ms", "p99 from due ms"),
        rows,
    )


def _conformance(summary: Mapping[str, Any]) -> list[str]:
    conf = summary["conformance"]
    lines = [
        "",
        "## Conformance",
        "",
        f"{conf['rules']} rules in the catalog: {conf['passed']} passed, "
        f"{conf['failed']} failed, {_count(conf['warnings'], 'warning')}, "
        f"{conf['not_checked']} not checked.",
    ]
    for rule_id, result in failing_rules(summary):
        lines += [
            "",
            f"### {rule_id} ({result['verdict']}, {result['severity']}, "
            f"{result['section'] or 'no section'})",
            "",
            f"{result['statement']}: {fmt(result['failures'])} of "
            f"{fmt(result['checks'])} checks failed, in "
            f"{_count(result['failed_subjects'], 'subject')}.",
        ]
        docs = result.get("docs") or []
        if docs:
            links = ", ".join(f"[{d['title']}]({d['url']})" for d in docs)
            lines += ["", f"Documented in: {links}."]
        if result["evidence"]:
            lines.append("")
            lines += _table(
                ("subject", "seq", "expected", "actual"),
                (
                    (e["subject"], fmt(e["seq"]), e["expected"], e["actual"])
                    for e in result["evidence"]
                ),
            )
    readings = [
        (rule_id, r["readings"])
        for rule_id, r in conf["results"].items()
        if r["readings"]
    ]
    if readings:
        lines += ["", "Readings seen (information, never a failure):", ""]
        lines += [
            f"- {rule_id}: " + ", ".join(f"{_cell(k)} ({n})" for k, n in seen.items())
            for rule_id, seen in readings
        ]
    return lines
