"""Capacity search: cut a stepped run at its level boundaries and gate each level.

The ``capacity`` profile runs a step shape (``scenarios/shapes.py``) that
writes its levels to ``shape.json``. Each level's evidence is the streams whose
start request was sent during that level, with their frames, stream records,
rule checks and the producers' health over the same seconds. Every level gets
the run's own gates (the same :func:`reports.summary.build_report`), so "the
largest level that held" means exactly what a plain run's "pass" means. The
search reads the levels in order and stops at the first that breaks.
"""

from __future__ import annotations

import dataclasses
import html
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

import pandas as pd

from harness.core.clocks import ClockPlan
from reports.load import Run
from reports.performance import Performance, analyse_levels


__all__ = [
    "capacity_gate",
    "knee",
    "level_runs",
    "render_html",
    "render_markdown",
    "search",
    "window",
]

Json = dict[str, Any]
Gate = Callable[[Run, "Performance | None"], Json]
"""Summarise and gate a (windowed) run, given its performance if already computed:
the summary, whose ``thresholds`` hold the gates, conformance included."""


def window(run: Run, start_ns: int, end_ns: int) -> Run:
    """The part of ``run`` that started in ``[start_ns, end_ns)``."""
    return _window(run, start_ns, end_ns)[0]


def _window(run: Run, start_ns: int, end_ns: int) -> tuple[Run, set[str]]:
    """:func:`window` and the stream sids in it."""
    requests = run.requests
    starts = requests[
        (requests["kind"] == "start")
        & (requests["sent_ns"] >= start_ns)
        & (requests["sent_ns"] < end_ns)
    ]
    request_ids = set(starts["request_id"]) - {""}
    streams = run.streams[run.streams["request_id"].isin(request_ids)]
    sids = (set(starts["stream_sid"]) | set(streams["stream_sid"].astype(str))) - {""}
    stops = requests[(requests["kind"] == "stop") & requests["stream_sid"].isin(sids)]
    subjects = request_ids | sids

    def by_sid(frame: pd.DataFrame) -> pd.DataFrame:
        return frame[frame["stream_sid"].astype(str).isin(sids)]

    health = run.health
    if "at_ns" in health:
        health = health[(health["at_ns"] >= start_ns) & (health["at_ns"] < end_ns)]
    part = dataclasses.replace(
        run,
        requests=pd.concat([starts, stops]),
        streams=by_sid(run.streams),
        platform_streams=by_sid(run.platform_streams),
        sent_frames=run.sent_frames.where_sids(sids),
        frames=run.frames.where_sids(sids),
        audio=run.audio.where_sids(sids),
        rule_checks=run.rule_checks[
            run.rule_checks["subject"].astype(str).isin(subjects)
        ],
        violations=run.violations[run.violations["subject"].astype(str).isin(subjects)],
        health=health,
    )
    return part, sids


def _brief(gate: Mapping[str, Any]) -> Json:
    return {
        k: gate.get(k)
        for k in ("name", "metric", "filter", "op", "limit", "value", "message")
    }


def shape_start_ns(shape: Mapping[str, Any], clock: ClockPlan) -> int:
    """When the shape started, on the clock ``clock`` compares the records on: the
    Locust master's monotonic clock (one host), or the wall clock (several hosts:
    ``start_wall_ns``, written beside it; absent from shapes of older runs)."""
    if clock.aligned and "start_wall_ns" in shape:
        return int(shape["start_wall_ns"])
    return int(shape["start_ns"])


def _bounds(shape: Mapping[str, Any], clock: ClockPlan) -> list[tuple[Json, int, int]]:
    """Each level of ``shape`` with its start and end on the run's clock."""
    start_ns = shape_start_ns(shape, clock)
    return [
        (
            level,
            start_ns + int(float(level["from_s"]) * 1e9),
            start_ns + int(float(level["to_s"]) * 1e9),
        )
        for level in shape.get("levels", [])
    ]


Levels = list[tuple[Run, "Performance | None"]]


def level_runs(
    run: Run, shape: Mapping[str, Any], *, one_pass: bool = True
) -> tuple[Performance | None, Levels]:
    """The whole run's performance and each level's window, with its performance
    (when ``one_pass``).

    One pass (:func:`reports.performance.analyse_levels`) reads the per-frame
    tables once for the whole run and every level; the windows then carry the
    row counts and time bounds that pass found, so nothing reads them again.
    Without it, the run and each window are left for the caller to analyse
    (the reference the one pass is tested against).
    """
    windows = [_window(run, a, b) for _, a, b in _bounds(shape, run.clock)]
    if not one_pass:
        return None, [(part, None) for part, _ in windows]
    whole, levels = analyse_levels(run, windows)
    out: Levels = []
    for level in levels:
        part = level.run
        part = dataclasses.replace(
            part,
            frames=dataclasses.replace(
                part.frames,
                known_rows=level.frames,
                known_bounds={"arrival_ns": level.bounds["arrival_ns"]},
            ),
            sent_frames=dataclasses.replace(
                part.sent_frames,
                known_rows=level.sent_frames,
                known_bounds={"sent_ns": level.bounds["sent_ns"]},
            ),
            audio=dataclasses.replace(part.audio, known_rows=level.audio),
        )
        out.append((part, level.performance))
    return whole, out


def search(
    run: Run,
    shape: Mapping[str, Any],
    gate: Gate,
    require: int = 1,
    *,
    one_pass: bool = True,
    live: Mapping[str, Any] | None = None,
    levels_run: Levels | None = None,
) -> Json:
    """Gate each level of ``shape``; find the knee and the largest level that held.

    Args:
        run: the whole run.
        shape: ``shape.json`` as the shape wrote it: the levels in the order run.
        gate: the run's gating, applied to each level's window (and its
            performance, computed in one pass when ``one_pass``).
        require: users the run must hold to pass (the ``capacity`` gate).
        live: ``capacity-live.json``, the verdicts the judge gave while the
            run went (shown beside the final ones).
        levels_run: :func:`level_runs` already made (else made here).
    """
    levels: list[Json] = []
    drawn: Json = {}
    verdicts = {int(v["index"]): v for v in (live or {}).get("levels", [])}
    parts = (
        levels_run
        if levels_run is not None
        else level_runs(run, shape, one_pass=one_pass)[1]
    )
    for i, ((level, _, _), (part, performance)) in enumerate(
        zip(_bounds(shape, run.clock), parts, strict=True)
    ):
        starts = int((part.requests["kind"] == "start").sum())
        entry: Json = {
            "users": int(level["users"]),
            "from_s": level["from_s"],
            "to_s": level["to_s"],
            "start_requests": starts,
            "streams": int((part.streams["start_ns"] > 0).sum()),
        }
        if i in verdicts:
            entry["live"] = verdicts[i].get("result")
        if starts == 0:
            entry.update(result="no-data", failed=[])
            levels.append(entry)
            continue
        summary = gate(part, performance)
        gates = summary["thresholds"]
        _limits(gates, drawn)
        failed = [_brief(g) for g in gates if g["result"] == "fail"]
        entry.update(
            result="fail" if failed else "pass",
            failed=failed,
            metrics=_key_metrics(gates),
            plot=_plot_metrics(summary),
        )
        levels.append(entry)
    result = knee(levels, require, shape)
    result["limits"] = drawn
    return result


def knee(
    levels: list[Json],
    require: int,
    shape: Mapping[str, Any] | None = None,
) -> Json:
    """The answer from the levels in the order run (steps, repeats, a bisection).

    A users count's result is that of its last level (a repeat decides). The
    knee is the least count that broke with every judged count above it broken
    too (a lone failure below a level that held was a blip); the largest count
    below it that held is the answer.
    """
    final: dict[int, Json] = {}
    for entry in levels:
        if entry["result"] != "no-data":
            final[entry["users"]] = entry
    counts = sorted(final)
    broke_at: int | None = None
    for users in reversed(counts):
        if final[users]["result"] != "fail":
            break
        broke_at = users
    passed = [
        u
        for u in counts
        if final[u]["result"] == "pass" and (broke_at is None or u < broke_at)
    ]
    held = max(passed) if passed else None
    broken = final[broke_at] if broke_at is not None else None
    broken_gates = sorted({g["name"] for g in broken["failed"]}) if broken else []
    reached = max(counts, default=0)
    spec = (shape or {}).get("search", {})
    return {
        "held": held,
        "broke_at": broke_at,
        "broken_gates": broken_gates,
        "largest_held": held,
        "first_broken": broke_at,
        "broken_by": broken_gates,
        "ceiling_reached": broke_at is None,
        "highest_level": reached,
        "require": require,
        "search": spec.get("search", "steps"),
        "stop": spec.get("stop", "ceiling"),
        "confirm": spec.get("confirm"),
        "stopped": (shape or {}).get("stopped"),
        "levels": levels,
    }


def _key_metrics(gates: Sequence[Mapping[str, Any]]) -> Json:
    """The worst value per gate name: what the level looked like at a glance."""
    out: Json = {}
    for g in gates:
        value = g.get("value")
        if value is None:
            continue
        name = str(g["name"])
        worse_high = g["op"] in ("<", "<=", "==")
        if name not in out or (value > out[name]) == worse_high:
            out[name] = value
    return out


PLOTTED: Final = {
    "latency_ms.p99": "latency p99 ms",
    "jitter_ms.p99": "jitter p99 ms",
    "setup_ms.p99": "setup p99 ms",
    "requests.error_ratio": "request error ratio",
}
"""What the capacity plot draws per level (the worst codec), and its label."""


def _plot_metrics(summary: Mapping[str, Any]) -> Json:
    """The plotted metrics of one level's summary: the worst codec's, per metric."""
    performance = summary.get("performance", {})
    out: Json = {}
    for key in PLOTTED:
        if key == "requests.error_ratio":
            out[key] = performance.get("requests", {}).get("error_ratio")
            continue
        metric, agg = key.split(".")
        values = [
            (codec.get(metric) or {}).get(agg)
            for codec in performance.get("codecs", {}).values()
        ]
        present = [v for v in values if v is not None]
        out[key] = max(present) if present else None
    return out


def _limits(gates: Sequence[Mapping[str, Any]], into: Json) -> None:
    """Keep the tightest upper limit of each plotted metric's gates (for the plot)."""
    for g in gates:
        name = str(g.get("name", "")).split("{")[0]
        limit = g.get("limit")
        if name in PLOTTED and g.get("op") in ("<", "<=") and limit is not None:
            into[name] = min(into.get(name, limit), limit)


def capacity_gate(result: Mapping[str, Any]) -> Json:
    """The ``capacity`` gate: the largest level that held must reach ``require``.

    A level that broke is the search's answer, not the run's failure, so the
    levels themselves are evidence in the report's capacity section, not gates.
    """
    held = result["largest_held"] or 0
    require = result["require"]
    if not any(level["result"] != "no-data" for level in result["levels"]):
        why = "no level started a stream (see 'What failed and when')"
    elif result["first_broken"] is None:
        why = "no level broke (the ceiling held: raise load.users to search further)"
    else:
        why = f"{result['first_broken']} users broke {', '.join(result['broken_by'])}"
    return {
        "name": "capacity",
        "metric": "capacity.largest_held",
        "filter": None,
        "op": ">=",
        "limit": require,
        "value": held,
        "result": "pass" if held >= require else "fail",
        "message": f"largest level that held every gate: {held} users; {why}",
        "source": "",
    }


def _path(result: Mapping[str, Any]) -> str:
    """How the search went, in one sentence."""
    levels = result["levels"]
    how = f"{result.get('search', 'steps')} search, {len(levels)} levels"
    stopped = result.get("stopped")
    if stopped == "knee":
        how += f"; stopped at the knee (confirm: {result.get('confirm')})"
    elif stopped:
        how += f"; stopped: {stopped}"
    elif result.get("stop") == "ceiling":
        how += "; ran to the ceiling"
    path = " -> ".join(f"{lv['users']} {lv['result']}" for lv in levels)
    return f"Path ({how}): {path}." if path else f"Path ({how})."


def _answer(result: Mapping[str, Any]) -> list[str]:
    held = result["largest_held"]
    first = (
        "No level held every gate."
        if held is None
        else f"{held} concurrent users held every gate."
    )
    if result["first_broken"] is not None:
        second = f"At {result['first_broken']} users these broke: {', '.join(result['broken_by'])}."
    else:
        second = "No level broke up to the ceiling; raise load.users to search further."
    return [first, second]


def _broken(level: Mapping[str, Any]) -> str:
    return "; ".join(
        f"{g['name']}: {g['value']} (limit {g['op']} {g['limit']})"
        for g in level["failed"]
    )


_HEADER: Final = (
    "#", "users", "from s", "to s", "start requests", "streams", "live", "result",
    "broken gates",
)  # fmt: skip


def _row(i: int, level: Mapping[str, Any]) -> list[str]:
    return [
        str(i + 1),
        str(level["users"]),
        f"{level['from_s']:.1f}",
        f"{level['to_s']:.1f}",
        str(level["start_requests"]),
        str(level["streams"]),
        str(level.get("live") or "-"),
        str(level["result"]),
        _broken(level) or "-",
    ]


def render_markdown(result: Mapping[str, Any]) -> list[str]:
    """The capacity section: the answer, the path, then the evidence level by level."""
    first, second = _answer(result)
    lines = ["", "## Capacity", "", f"**{first}**", second, "", _path(result), ""]
    lines += [
        "| " + " | ".join(_HEADER) + " |",
        "|" + "---|" * len(_HEADER),
    ]
    for i, level in enumerate(result["levels"]):
        cells = [c.replace("|", "\\|") for c in _row(i, level)]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append(
        "\n(live: the verdict while the run went, on the gates that can be judged "
        "then; result: every gate, on every record.)"
    )
    return lines


def render_html(result: Mapping[str, Any], plot: str | None = None) -> str:
    """The capacity section as an HTML fragment (escaped), with its plot."""
    e = html.escape
    first, second = _answer(result)
    rows = "".join(
        "<tr>"
        + "".join(f"<td>{e(c)}</td>" for c in _row(i, level)[:7])
        + f'<td class=l><span class="badge {e(level["result"])}">{e(level["result"])}</span></td>'
        + f"<td class=l>{e(_row(i, level)[8])}</td></tr>"
        for i, level in enumerate(result["levels"])
    )
    head = "".join(f"<th>{e(h)}</th>" for h in _HEADER[:7])
    return (
        f"<h2>Capacity</h2><p><strong>{e(first)}</strong> {e(second)}</p>"
        + (f"<figure>{plot}</figure>" if plot else "")
        + f"<p>{e(_path(result))}</p>"
        f"<table><tr>{head}<th class=l>result</th><th class=l>broken gates</th></tr>{rows}</table>"
    )
