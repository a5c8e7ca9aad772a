"""Was the harness itself saturated? Its producers' health and the sender's pacing.

A receiver at ~90 % CPU adds 20-50 ms of queueing to every frame behind it,
and a sender that falls behind its schedule shows up as platform jitter
(docs/performance.md §2, §3). So a run's latency numbers are only the platform's when
the harness kept up. ``performance.harness.saturated`` is true when any of:

* a producer's event-loop thread used more than :data:`CPU_SATURATED` of a
  core in more than a tenth of its seconds (p90 of the ``health`` samples: a
  start-up second alone does not count);
* a producer's event-loop lag p99 over the run exceeds
  :data:`LAG_P99_SATURATED_NS` (from the merged ``loop_lag_ns`` histograms,
  else the worst per-second p99);
* the reference platform's pacing error (``sent_frames.sent_ns - due_ns``)
  has a p99 above the same limit.

``reasons`` names each breach, so a gate can say why.
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np
import pandas as pd

from harness.core.health import CPU_SATURATED, LAG_METRIC, LAG_P99_SATURATED_NS
from harness.core.histogram import Histogram
from reports.histograms import merged
from reports.stats import NS_PER_MS, ms


__all__ = ["PACING_P99_SATURATED_NS", "summarise_harness"]

PACING_P99_SATURATED_NS: Final = LAG_P99_SATURATED_NS
"""Sender lateness p99 above which jitter and lateness carry the sender's delay."""
_CPU_QUANTILE: Final = 0.9

Json = dict[str, Any]


def summarise_harness(
    health: pd.DataFrame, histograms: pd.DataFrame, pacing: Json
) -> Json:
    """The ``performance.harness`` block (see the module docstring).

    ``pacing`` is the distribution of the send log's ``sent - due`` per frame
    (:func:`reports.stats.distribution`, taken a piece at a time on a long run).
    """
    lags = _lag_histograms(histograms)
    producers: Json = {}
    reasons: list[str] = []
    for producer, rows in health.groupby("producer", sort=True, observed=True):
        name = str(producer)
        entry = _producer(rows, lags.get(name))
        producers[name] = entry
        cpu = entry["loop_cpu"]["p90"]
        if cpu is not None and cpu > CPU_SATURATED:
            reasons.append(
                f"{name}: event-loop CPU p90 {cpu:.0%} > {CPU_SATURATED:.0%} of a core"
            )
        lag = entry["lag_ms"]["p99"]
        if lag is not None and lag * NS_PER_MS > LAG_P99_SATURATED_NS:
            reasons.append(
                f"{name}: event-loop lag p99 {lag} ms > "
                f"{LAG_P99_SATURATED_NS / NS_PER_MS:g} ms"
            )
    if (
        pacing["p99"] is not None
        and pacing["p99"] * NS_PER_MS > PACING_P99_SATURATED_NS
    ):
        reasons.append(
            f"platform pacing p99 {pacing['p99']} ms > "
            f"{PACING_P99_SATURATED_NS / NS_PER_MS:g} ms behind schedule"
        )
    return {
        "saturated": bool(reasons),
        "reasons": reasons,
        "measured": bool(len(health)) or bool(pacing["count"]),
        "limits": {
            "loop_cpu": CPU_SATURATED,
            "lag_p99_ms": LAG_P99_SATURATED_NS / NS_PER_MS,
            "pacing_p99_ms": PACING_P99_SATURATED_NS / NS_PER_MS,
        },
        "pacing_ms": pacing,
        "producers": producers,
    }


def _lag_histograms(histograms: pd.DataFrame) -> dict[str, Histogram]:
    """producer -> its merged loop-lag histogram."""
    if not len(histograms):
        return {}
    rows = histograms[histograms["metric"].astype(str) == LAG_METRIC]
    out: dict[str, Histogram] = {}
    for producer, part in rows.groupby("producer", sort=True, observed=True):
        hist = merged(part).get((LAG_METRIC, "", ""))
        if hist is not None:
            out[str(producer)] = hist
    return out


def _shares(used: pd.Series[Any], interval: pd.Series[Any]) -> dict[str, float | None]:
    """CPU share of one core per sample: p50, p90 and max."""
    ok = interval.to_numpy(np.int64) > 0
    share = used.to_numpy(np.float64)[ok] / interval.to_numpy(np.float64)[ok]
    if not len(share):
        return {"p50": None, "p90": None, "max": None}
    p50, p90 = np.quantile(share, [0.5, _CPU_QUANTILE])
    return {
        "p50": round(float(p50), 3),
        "p90": round(float(p90), 3),
        "max": round(float(share.max()), 3),
    }


def _producer(rows: pd.DataFrame, lag: Histogram | None) -> Json:
    kinds = rows["kind"].astype(str)
    if lag is not None and lag.total:
        p99 = ms(lag.percentile(0.99))
    else:
        p99 = ms(float(rows["lag_p99_ns"].max())) if len(rows) else None
    return {
        "kind": str(kinds.iloc[0]) if len(kinds) else "",
        "samples": len(rows),
        "loop_cpu": _shares(rows["loop_cpu_ns"], rows["interval_ns"]),
        "process_cpu": _shares(rows["cpu_ns"], rows["interval_ns"]),
        "lag_ms": {"p99": p99, "max": ms(float(rows["lag_max_ns"].max()))},
        "gc": {
            "pauses": int(rows["gc_pauses"].sum()),
            "total_ms": ms(float(rows["gc_total_ns"].sum())),
            "max_ms": ms(float(rows["gc_max_ns"].max())),
        },
        "rss_max_mb": round(float(rows["rss_bytes"].max()) / 2**20, 1),
    }
