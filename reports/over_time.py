"""The run over time, for the plots: streams live, failures, the harness's health.

Each series comes from a small table the report already holds in memory
(requests, streams, violations, health: rows per stream or per second, never
per frame) and is cut to at most :data:`reports.series.MAX_POINTS` points.
Times are seconds from ``origin_ns``, the run's first request, as in "What
failed and when" (:mod:`reports.timeline`).
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from reports.load import Run
from reports.series import MAX_POINTS, downsample
from reports.stats import NS_PER_MS


__all__ = ["errors", "harness", "origin_ns", "streams_live"]

_MAX_BARS: Final = 100
Line = tuple[list[float], list[float]]
I64 = npt.NDArray[np.int64]


def origin_ns(run: Run, first_arrival_ns: int | None) -> int | None:
    """The run's first request sent, else its first frame's arrival."""
    sent = run.requests["sent_ns"]
    sent = sent[sent > 0]
    if len(sent):
        return int(sent.min())
    return first_arrival_ns


def streams_live(run: Run, origin: int) -> Line:
    """Streams live at the receivers (``start`` to ``stop``, else to the close),
    as a step: each x holds its count until the next; empty without streams.

    Cut to :data:`MAX_POINTS` by keeping each run of steps' highest count, so
    a short peak still shows.
    """
    streams = run.streams[run.streams["start_ns"] > 0]
    if not len(streams):
        return [], []
    start = streams["start_ns"].to_numpy(np.int64)
    stop = streams["stop_ns"].to_numpy(np.int64)
    closed = streams["closed_ns"].to_numpy(np.int64)
    end = np.where(stop > 0, stop, closed)
    ended = end > 0
    times = np.concatenate([start, end[ended]])
    steps = np.concatenate(
        [np.ones(len(start), np.int64), -np.ones(ended.sum(), np.int64)]
    )
    order = np.lexsort((steps, times))  # an end before a start at the same ns
    xs = (times[order] - origin) / 1e9
    ys = np.cumsum(steps[order]).astype(np.float64)
    xs, ys = np.r_[min(0.0, xs[0]), xs], np.r_[0.0, ys]
    return downsample(xs.round(3), ys, how="max")


def _bin_s(span_s: float) -> float:
    """A round bar width giving at most :data:`_MAX_BARS` bars."""
    for width in (0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600):
        if span_s / width <= _MAX_BARS:
            return float(width)
    return float(np.ceil(span_s / _MAX_BARS))


def errors(run: Run, origin: int, end_s: float) -> tuple[float, dict[str, Line]]:
    """Failures per bin over the run: failed start and stop requests (any
    answer but HTTP 200, or none) and rule violations; only the kinds that
    happened. Returns the bin width (s) and kind -> (bin start s, count)."""
    requests = run.requests[run.requests["sent_ns"] > 0]
    bad = requests[requests["status"] != 200]
    kinds: dict[str, I64] = {
        "failed start requests": bad.loc[bad["kind"] == "start", "sent_ns"].to_numpy(
            np.int64
        ),
        "failed stop requests": bad.loc[bad["kind"] == "stop", "sent_ns"].to_numpy(
            np.int64
        ),
    }
    at = run.violations["at_ns"]
    kinds["rule violations (evidence rows)"] = at[at > 0].to_numpy(np.int64)
    kinds = {k: v for k, v in kinds.items() if len(v)}
    if not kinds:
        return 1.0, {}
    last = max(end_s, *(float((v.max() - origin) / 1e9) for v in kinds.values()))
    width = _bin_s(max(last, 1.0))
    n = int(last // width) + 1
    out: dict[str, Line] = {}
    for kind, times in kinds.items():
        bins = np.clip((times - origin) // int(width * 1e9), 0, n - 1)
        counts = np.bincount(bins, minlength=n).astype(np.float64)
        out[kind] = ([round(i * width, 3) for i in range(n)], counts.tolist())
    return width, out


def harness(
    health: pd.DataFrame, origin: int
) -> dict[str, tuple[list[float], list[float], list[float]]]:
    """Producer -> (s, event-loop CPU share of a core, loop lag p99 ms), once a
    second as the producers wrote them; cut to :data:`MAX_POINTS` by the mean
    CPU and the highest lag of each run of seconds."""
    out: dict[str, tuple[list[float], list[float], list[float]]] = {}
    rows = health[health["interval_ns"] > 0]
    for producer, part in rows.groupby("producer", sort=True, observed=True):
        part = part.sort_values("at_ns", kind="stable")
        xs = ((part["at_ns"].to_numpy(np.int64) - origin) / 1e9).round(3)
        interval = part["interval_ns"].to_numpy(np.float64)
        cpu = part["loop_cpu_ns"].to_numpy(np.float64) / interval
        lag = part["lag_p99_ns"].to_numpy(np.float64) / NS_PER_MS
        at, cpus = downsample(xs, cpu.round(4), MAX_POINTS, "mean")
        _, lags = downsample(xs, lag.round(3), MAX_POINTS, "max")
        out[str(producer)] = (at, cpus, lags)
    return out
