"""What failed and when: request failures over time, and what the CLI saw happen.

A target that fails midway (5xx, timeouts, refused connections) must still
leave a report that says so: each span of seconds in which requests failed,
with how many, of which kind and the most common error, plus the run's own
events from ``run.json`` (a service that died, an interruption), all in
seconds from the run's first request. Against a platform that never failed the
section is one line.

A platform can also answer every request and still lose the streams: it cannot
reach the receivers (a TLS terminator or tunnel in between went down), or a
connection is cut before ``stop``. Those streams are spans of their own: a
stream that never reached a receiver counts when its start request was
answered, one cut short when its socket closed; with the reference platform's
records in the run, the most common reason it gave (``end_reason: error``).
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any, Final

import numpy as np
import pandas as pd

from reports.load import Run


__all__ = ["render_html", "render_markdown", "timeline"]

Json = dict[str, Any]
_MAX_BINS: Final = 60
_MAX_INCIDENTS: Final = 10


def _bin_s(span_s: float) -> float:
    """A round bin width giving at most :data:`_MAX_BINS` bins."""
    for width in (0.5, 1, 2, 5, 10, 30, 60, 300, 600, 3600):
        if span_s / width <= _MAX_BINS:
            return float(width)
    return span_s / _MAX_BINS


def timeline(run: Run, run_json: Mapping[str, Any] | None = None) -> Json:
    """Failures per time bin, the spans they form, and the CLI's events."""
    requests = run.requests[run.requests["sent_ns"] > 0]
    events = list((run_json or {}).get("events", []))
    if requests.empty:
        return {
            "start_ns": None,
            "bin_s": None,
            "bins": [],
            "incidents": [],
            "lost_streams": 0,
            "stream_incidents": [],
            "events": events,
        }
    start_ns = int(requests["sent_ns"].min())
    end_ns = int(max(requests["sent_ns"].max(), requests["done_ns"].max()))
    width = _bin_s(max((end_ns - start_ns) / 1e9, 1.0))
    at = (requests["sent_ns"].to_numpy(np.int64) - start_ns) / 1e9
    idx = np.floor(at / width).astype(np.int64)
    failed = (requests["status"] != 200).to_numpy()
    n_bins = int(idx.max()) + 1
    totals = np.bincount(idx, minlength=n_bins)
    errors = np.bincount(idx, weights=failed, minlength=n_bins).astype(np.int64)
    bins = [
        {
            "from_s": round(i * width, 3),
            "requests": int(totals[i]),
            "errors": int(errors[i]),
        }
        for i in range(n_bins)
    ]
    incidents = _incidents(requests.assign(_bin=idx, _at=at), failed, errors, width)
    streams = _lost_streams(run, start_ns)
    # records of several hosts are on the wall clock (harness.core.clocks): so is
    # start_ns; an event without a wall time keeps the CLI's own at_s
    clock = "wall_ns" if run.clock.aligned else "mono_ns"
    for event in events:
        instant = event.get(clock)
        if isinstance(instant, int):
            event["at_s"] = round((instant - start_ns) / 1e9, 3)
    return {
        "start_ns": start_ns,
        "bin_s": width,
        "bins": bins,
        "failed_requests": int(failed.sum()),
        "incidents": incidents,
        "lost_streams": int(streams["lost"].sum()),
        "stream_incidents": _stream_spans(streams),
        "events": events,
    }


_NEVER: Final = "never reached a receiver"
_CUT: Final = "cut before stop"


def _known(values: pd.Series[Any], among: pd.Series[Any]) -> pd.Series[bool]:
    pool = among[among != ""].unique()
    return (values != "") & values.isin(pool)


def _lost_streams(run: Run, start_ns: int) -> pd.DataFrame:
    """Every stream started with HTTP 200: ``_at`` (s), ``lost``, ``what``, ``reason``.

    A stream that arrived counts at its start request's answer; one that
    never arrived too, one cut before ``stop`` when its socket closed.
    """
    requests, streams = run.requests, run.streams
    started = requests[(requests["kind"] == "start") & (requests["status"] == 200)]
    received = streams[streams["start_ns"] > 0]
    arrived = _known(started["request_id"], received["request_id"]) | _known(
        started["stream_sid"], received["stream_sid"]
    )
    cut = received[received["stop_ns"] <= 0]
    cut_ns = cut["closed_ns"].where(cut["closed_ns"] > 0, cut["start_ns"])
    rows = pd.DataFrame(
        {
            "stream_sid": [*started["stream_sid"], *cut["stream_sid"]],
            "_at": [
                *((started["done_ns"] - start_ns) / 1e9),
                *((cut_ns - start_ns) / 1e9),
            ],
            "lost": [*~arrived, *([True] * len(cut))],
            "what": [_NEVER] * len(started) + [_CUT] * len(cut),
        }
    )
    reasons: dict[str, str] = {}
    platform = run.platform_streams
    if len(platform):
        for sid, end, error in zip(
            platform["stream_sid"],
            platform["end_reason"],
            platform["error"],
            strict=True,
        ):
            reasons[str(sid)] = f"{end}: {error}" if error else str(end)
    rows["reason"] = [reasons.get(str(sid), "") for sid in rows["stream_sid"]]
    return rows.sort_values("_at", kind="stable").reset_index(drop=True)


def _stream_spans(rows: pd.DataFrame) -> list[Json]:
    """Runs of lost streams with no stream that arrived in between."""
    out: list[Json] = []
    if rows.empty or not rows["lost"].any():
        return out
    lost = rows["lost"].to_numpy(bool)
    run_id = np.cumsum(np.r_[True, lost[1:] != lost[:-1]])
    for rid in np.unique(run_id[lost])[:_MAX_INCIDENTS]:
        span = rows[run_id == rid]
        reasons = span["reason"][span["reason"] != ""].str.slice(0, 160)
        top = reasons.value_counts()
        out.append(
            {
                "from_s": round(float(span["_at"].min()), 3),
                "to_s": round(float(span["_at"].max()), 3),
                "streams": len(span),
                "by_what": {
                    str(k): int(v) for k, v in span["what"].value_counts().items()
                },
                "top_reason": str(top.index[0]) if len(top) else "",
            }
        )
    return out


def _incidents(
    requests: pd.DataFrame,
    failed: np.ndarray[Any, Any],
    errors: np.ndarray[Any, Any],
    width: float,
) -> list[Json]:
    """Runs of consecutive bins with failures: when, how many, what."""
    out: list[Json] = []
    i = 0
    while i < len(errors) and len(out) < _MAX_INCIDENTS:
        if not errors[i]:
            i += 1
            continue
        j = i
        while j + 1 < len(errors) and errors[j + 1]:
            j += 1
        rows = requests[(requests["_bin"] >= i) & (requests["_bin"] <= j)]
        bad = rows[rows["status"] != 200]
        kinds = bad["kind"].value_counts()
        top = bad["error"].astype(str).str.slice(0, 160).value_counts()
        out.append(
            {
                "from_s": round(float(bad["_at"].min()), 3),
                "to_s": round(float(bad["_at"].max()), 3),
                "requests": len(rows),
                "failed": len(bad),
                "by_kind": {str(k): int(v) for k, v in kinds.items()},
                "statuses": {
                    str(k): int(v) for k, v in bad["status"].value_counts().items()
                },
                "top_error": str(top.index[0]) if len(top) else "",
            }
        )
        i = j + 1
    return out


def _describe(incident: Mapping[str, Any]) -> str:
    kinds = ", ".join(f"{n} {k}" for k, n in incident["by_kind"].items())
    statuses = ", ".join(
        f"{'no answer' if s == '0' else 'HTTP ' + s} x{n}"
        for s, n in incident["statuses"].items()
    )
    return (
        f"+{incident['from_s']:g} s to +{incident['to_s']:g} s: {incident['failed']} of "
        f"{incident['requests']} requests failed ({kinds}; {statuses}); "
        f"most common: {incident['top_error'] or '-'}"
    )


def _describe_streams(span: Mapping[str, Any]) -> str:
    what = ", ".join(f"{n} {w}" for w, n in span["by_what"].items())
    reason = (
        f"; the platform's most common reason: {span['top_reason']}"
        if span.get("top_reason")
        else ""
    )
    return (
        f"+{span['from_s']:g} s to +{span['to_s']:g} s: {span['streams']} started "
        f"stream(s) lost ({what}){reason}"
    )


def render_markdown(section: Mapping[str, Any]) -> list[str]:
    lines = ["", "## What failed and when", ""]
    incidents = section.get("incidents", [])
    spans = section.get("stream_incidents", [])
    failures = [e for e in section.get("events", []) if e.get("kind") == "failure"]
    if not incidents and not spans and not failures:
        return lines + ["No request failed and every service ran to the end."]
    lines += [f"- {_describe(i)}" for i in incidents]
    lines += [f"- {_describe_streams(s)}" for s in spans]
    lines += [f"- +{e['at_s']:g} s: {e['what']}" for e in failures]
    bins = section.get("bins", [])
    if incidents and bins:
        lines += [
            "",
            f"Failed / all requests per {section['bin_s']:g} s: "
            + " ".join(f"{b['errors']}/{b['requests']}" for b in bins),
        ]
    return lines


def render_html(section: Mapping[str, Any]) -> str:
    e = html.escape
    incidents = section.get("incidents", [])
    spans = section.get("stream_incidents", [])
    failures = [ev for ev in section.get("events", []) if ev.get("kind") == "failure"]
    if not incidents and not spans and not failures:
        return "<h2>What failed and when</h2><p>No request failed and every service ran to the end.</p>"
    items = [f"<li>{e(_describe(i))}</li>" for i in incidents]
    items += [f"<li>{e(_describe_streams(s))}</li>" for s in spans]
    items += [f"<li>+{ev['at_s']:g} s: {e(str(ev['what']))}</li>" for ev in failures]
    return f"<h2>What failed and when</h2><ul>{''.join(items)}</ul>"
