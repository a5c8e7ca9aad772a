"""Assemble the run summary: every section, the gates, and the verdict.

The summary is plain JSON data (str, int, float, bool, None, lists, dicts) so
every renderer, CI script and ``compare`` reads the same thing. Plot series
travel beside it in :class:`Report`, not inside it, to keep ``summary.json``
small whatever the run's length.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any, Final

import pandas as pd

from reports.accounting import account
from reports.conformance import summarise_conformance
from reports.gates import Threshold, evaluate, verdict
from reports.join import joined_checks
from reports.load import Parts, Run
from reports.performance import Performance, Plots, analyse, plot_limits
from reports.rest import summarise_requests


__all__ = ["SCHEMA", "Report", "build_report"]

SCHEMA: Final = 1
"""Version of the summary layout; bumped when a key moves or changes meaning."""

Json = dict[str, Any]


@dataclasses.dataclass(frozen=True)
class Report:
    summary: Json
    plots: Plots


def build_report(
    run: Run,
    thresholds: Iterable[Threshold],
    performance: Performance | None = None,
) -> Report:
    """Summarise ``run`` and gate it (``performance``: already analysed, e.g. a
    capacity level's from the one pass over every level)."""
    performance = performance if performance is not None else analyse(run)
    rule_checks, violations = joined_checks(run)  # streams judged by sid, too
    summary: Json = {
        "schema": SCHEMA,
        "verdict": "pass",
        "run": _run_info(run),
        "accounting": account(run),
        "conformance": summarise_conformance(rule_checks, violations),
        "performance": {
            "basis": performance.basis,
            "codecs": performance.codecs,
            "tracks": performance.tracks,
            "requests": summarise_requests(run.requests),
            "harness": performance.harness,
            "receiver_histograms": performance.receiver_histograms,
        },
    }
    gates = evaluate(summary, thresholds)
    summary["thresholds"] = gates
    summary["verdict"] = verdict(gates)
    plots = performance.plots
    limits = {**plots.limits, **plot_limits(gates)}  # the gates drawn on the plots
    return Report(summary=summary, plots=dataclasses.replace(plots, limits=limits))


def _run_info(run: Run) -> Json:
    """Run id, duration and producers; host names stay out of reports."""
    run_ids = _non_empty(run.requests["run_id"]) or _non_empty(run.streams["run_id"])
    producers = run.producers
    hosts = producers["host"][producers["host"] != ""].nunique()
    kinds = producers["kind"].replace("", "unknown").value_counts().sort_index()
    return {
        "run_id": run_ids[0] if run_ids else None,
        "run_ids": run_ids,
        "duration_s": _duration_s(run, single_host=hosts <= 1),
        "producers": {str(k): int(v) for k, v in kinds.items()},
        "hosts": int(hosts),
        "records": run.rows(),
    }


def _non_empty(values: pd.Series[Any]) -> list[str]:
    """Distinct non-empty values, most frequent first."""
    counts = values[values != ""].astype(str).value_counts()
    return [str(v) for v in counts.index]


def _duration_s(run: Run, *, single_host: bool) -> float | None:
    """First to last timestamp; with several hosts, the longest single-table span."""
    columns = (
        (run.requests, ("sent_ns", "done_ns")),
        (run.sent_frames, ("sent_ns",)),
        (run.frames, ("arrival_ns",)),
        (run.streams, ("start_ns", "stop_ns", "closed_ns")),
    )
    spans: list[tuple[int, int]] = []
    for frame, names in columns:
        lows, highs = [], []
        for name in names:
            bounds = _bounds(frame, name)
            if bounds is not None:
                lows.append(bounds[0])
                highs.append(bounds[1])
        if lows:
            spans.append((min(lows), max(highs)))
    if not spans:
        return None
    if single_host:
        return round((max(h for _, h in spans) - min(lo for lo, _ in spans)) / 1e9, 3)
    return round(max(h - lo for lo, h in spans) / 1e9, 3)


def _bounds(table: pd.DataFrame | Parts, column: str) -> tuple[int, int] | None:
    """The least and greatest positive value of ``column``."""
    if isinstance(table, Parts):
        return table.bounds(column)
    present = table[column][table[column] > 0]
    return (int(present.min()), int(present.max())) if len(present) else None
