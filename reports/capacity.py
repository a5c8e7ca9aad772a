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
from typing import Any

import pandas as pd

from reports.load import Run


__all__ = ["capacity_gate", "render_html", "render_markdown", "search", "window"]

Json = dict[str, Any]
Gate = Callable[[Run], list[Json]]
"""Gate a (windowed) run: the summary's gates, conformance included."""


def window(run: Run, start_ns: int, end_ns: int) -> Run:
    """The part of ``run`` that started in ``[start_ns, end_ns)``."""
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
    return dataclasses.replace(
        run,
        requests=pd.concat([starts, stops]),
        streams=by_sid(run.streams),
        platform_streams=by_sid(run.platform_streams),
        sent_frames=run.sent_frames.where_sids(sids),
        frames=run.frames.where_sids(sids),
        rule_checks=run.rule_checks[
            run.rule_checks["subject"].astype(str).isin(subjects)
        ],
        violations=run.violations[run.violations["subject"].astype(str).isin(subjects)],
        health=health,
    )


def _brief(gate: Mapping[str, Any]) -> Json:
    return {
        k: gate.get(k)
        for k in ("name", "metric", "filter", "op", "limit", "value", "message")
    }


def search(run: Run, shape: Mapping[str, Any], gate: Gate, require: int = 1) -> Json:
    """Gate each level of ``shape`` in order; report the largest that held.

    Args:
        run: the whole run.
        shape: ``shape.json`` as written by the step shape.
        gate: the run's gating, applied to each level's window.
        require: users the run must hold to pass (the ``capacity`` gate).
    """
    start_ns = int(shape["start_ns"])
    levels: list[Json] = []
    held: int | None = None
    broken: Json | None = None
    for level in shape.get("levels", []):
        users = int(level["users"])
        a = start_ns + int(float(level["from_s"]) * 1e9)
        b = start_ns + int(float(level["to_s"]) * 1e9)
        part = window(run, a, b)
        starts = int((part.requests["kind"] == "start").sum())
        entry: Json = {
            "users": users,
            "from_s": level["from_s"],
            "to_s": level["to_s"],
            "start_requests": starts,
            "streams": int((part.streams["start_ns"] > 0).sum()),
        }
        if starts == 0:
            entry.update(result="no-data", failed=[])
            levels.append(entry)
            continue
        gates = gate(part)
        failed = [_brief(g) for g in gates if g["result"] == "fail"]
        entry.update(
            result="fail" if failed else "pass",
            failed=failed,
            metrics=_key_metrics(gates),
        )
        levels.append(entry)
        if broken is None and failed:
            broken = entry
        elif broken is None:
            held = max(held or 0, users)
    reached = max(
        (lv["users"] for lv in levels if lv["result"] != "no-data"), default=0
    )
    return {
        "largest_held": held,
        "first_broken": broken["users"] if broken else None,
        "broken_by": [g["name"] for g in broken["failed"]] if broken else [],
        "ceiling_reached": broken is None,
        "highest_level": reached,
        "require": require,
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


def render_markdown(result: Mapping[str, Any]) -> list[str]:
    """The capacity section: the answer, then the evidence level by level."""
    held = result["largest_held"]
    lines = ["", "## Capacity", ""]
    if held is None:
        lines.append("**No level held every gate.**")
    else:
        lines.append(f"**{held} concurrent users held every gate.**")
    if result["first_broken"] is not None:
        lines.append(
            f"At {result['first_broken']} users these broke: {', '.join(result['broken_by'])}."
        )
    else:
        lines.append(
            "No level broke up to the ceiling; raise load.users to search further."
        )
    lines += [
        "",
        "| users | from s | to s | start requests | streams | result | broken gates |",
        "|---|---|---|---|---|---|---|",
    ]
    for level in result["levels"]:
        broken = "; ".join(
            f"{g['name']}: {g['value']} (limit {g['op']} {g['limit']})"
            for g in level["failed"]
        )
        lines.append(
            f"| {level['users']} | {level['from_s']:g} | {level['to_s']:g} | "
            f"{level['start_requests']} | {level['streams']} | {level['result']} | {broken or '-'} |"
        )
    return lines


def render_html(result: Mapping[str, Any]) -> str:
    """The capacity section as an HTML fragment (escaped)."""
    e = html.escape
    held = result["largest_held"]
    answer = (
        "No level held every gate."
        if held is None
        else f"{held} concurrent users held every gate."
    )
    if result["first_broken"] is not None:
        answer += f" At {result['first_broken']} users these broke: {', '.join(result['broken_by'])}."
    rows = "".join(
        "<tr>"
        + "".join(
            f"<td>{e(str(v))}</td>"
            for v in (
                level["users"],
                f"{level['from_s']:g}",
                f"{level['to_s']:g}",
                level["start_requests"],
                level["streams"],
            )
        )
        + f'<td class=l><span class="badge {e(level["result"])}">{e(level["result"])}</span></td>'
        + "<td class=l>"
        + e(
            "; ".join(
                f"{g['name']}: {g['value']} (limit {g['op']} {g['limit']})"
                for g in level["failed"]
            )
            or "-"
        )
        + "</td></tr>"
        for level in result["levels"]
    )
    return (
        f"<h2>Capacity</h2><p><strong>{e(answer)}</strong></p>"
        "<table><tr><th>users</th><th>from s</th><th>to s</th><th>start requests</th>"
        f"<th>streams</th><th class=l>result</th><th class=l>broken gates</th></tr>{rows}</table>"
    )
