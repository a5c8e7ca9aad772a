"""The report's plots as inline SVG strings (no files, no pyplot global state).

Figures are built with :class:`matplotlib.figure.Figure` directly and saved
through matplotlib's SVG backend, which needs no display, so rendering is safe
in CI and in threads. Text stays text (``svg.fonttype: none``) and ids are
salted with a constant, so the same run renders the same bytes.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping
from typing import Any, Final, NamedTuple

import matplotlib
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FixedFormatter, FixedLocator, FuncFormatter, NullLocator
from matplotlib.typing import RcKeyType

from reports.performance import Plots


__all__ = [
    "Figured",
    "capacity",
    "codecs",
    "failures",
    "figures",
    "harness",
    "latency_over_time",
    "latency_percentiles",
    "setup_histogram",
    "streams_live",
]

_RC: Final[dict[RcKeyType, Any]] = {
    "svg.fonttype": "none",
    "svg.hashsalt": "streamload",
    "font.size": 9,
    # fewer fallbacks: each is repeated in every text element's style
    "font.sans-serif": ["DejaVu Sans", "Helvetica", "Arial"],
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
}
_SIZE: Final = (6.4, 3.0)
_PROLOGUE = re.compile(r"^.*?(?=<svg\b)", re.S)
_METADATA = re.compile(r"<metadata>.*?</metadata>\s*", re.S)


def _svg(figure: Figure) -> str:
    """Serialise ``figure`` as an ``<svg>`` element fit to inline in HTML.

    Not cropped to what is drawn (``bbox_inches="tight"``): that costs a
    second layout pass, and constrained layout already fills the figure."""
    buffer = io.StringIO()
    with matplotlib.rc_context(_RC):
        figure.savefig(
            buffer,
            format="svg",
            metadata={"Date": None},
        )
    text = _PROLOGUE.sub("", buffer.getvalue(), count=1)
    return _METADATA.sub("", text).strip()


def _figure(height: float = _SIZE[1], rows: int = 1, cols: int = 1) -> Figure:
    with matplotlib.rc_context(_RC):
        figure = Figure(figsize=(_SIZE[0], height), layout="constrained")
        figure.subplots(rows, cols, sharex=rows > 1, squeeze=False)
    return figure


class Figured(NamedTuple):
    """One plot of the report: its title and its SVG, or why it is not shown."""

    title: str
    svg: str | None
    why: str
    """Why there is no plot (one line), when :attr:`svg` is ``None``."""


def figures(plots: Plots) -> list[Figured]:
    """Every plot of the report's plots section, in reading order."""
    made = (
        ("Transit latency by percentile", latency_percentiles, _NO_LATENCY),
        ("Transit latency over time", latency_over_time, _NO_LATENCY),
        ("Codecs side by side", codecs, "no codec delivered or sent media"),
        ("Streams live", streams_live, "no stream reached a receiver"),
        (
            "Failures over time",
            failures,
            "no request failed and no rule violation was recorded",
        ),
        ("Harness CPU and loop lag", harness, "no producer wrote health records"),
        (
            "Setup latency",
            setup_histogram,
            "no start request could be joined with its stream's start message",
        ),
    )
    return [Figured(title, make(plots), why) for title, make, why in made]


_NO_LATENCY: Final = (
    "no received frame matched the platform's send log (a real platform "
    "writes none), so transit latency is unknown"
)
_NINES: Final = (
    (1.0, "0%"),
    (2.0, "50%"),
    (10.0, "90%"),
    (100.0, "99%"),
    (1e3, "99.9%"),
    (1e4, "99.99%"),
    (1e5, "99.999%"),
)
"""Ticks of the percentile axis: ``1/(1-p)`` and its label."""
_PALETTE: Final = (
    "tab:blue", "tab:orange", "tab:green", "tab:purple", "tab:brown", "tab:pink",
    "tab:olive", "tab:cyan", "tab:gray",
)  # fmt: skip
"""Line colors; red is kept for gates and failures."""
_MAX_LINES: Final = 6
"""Per-track lines are drawn only when codec and track lines stay within this."""
_LOG_Y_SPREAD: Final = 30.0
"""Lines further apart than this ratio get a log latency axis."""


def _colors(plots: Plots) -> dict[str, str]:
    """One color per codec, the same in every plot."""
    names = sorted(
        {*plots.latency_percentiles, *plots.latency_over_time, *plots.codec_bars}
        | set(plots.setup_counts)
    )
    return {name: _PALETTE[i % len(_PALETTE)] for i, name in enumerate(names)}


def _gate(ax: Axes, value: float, label: str, *, x: float | None = None) -> None:
    """A gate's limit as a dashed red line, labelled at the right end."""
    ax.axhline(value, color="tab:red", linestyle="--", linewidth=1, zorder=1)
    ax.annotate(
        label,
        (1.0, value),
        xycoords=("axes fraction", "data"),
        xytext=(-2, 2),
        textcoords="offset points",
        ha="right",
        va="bottom",
        color="tab:red",
        fontsize=7.5,
    )
    if x is not None:
        ax.plot([x], [value], marker="o", color="tab:red", markersize=3.5, zorder=3)


def _latency_gates(ax: Axes, plots: Plots, *, at_percentile: bool) -> list[float]:
    """Draw every latency gate (``latency_ms.pNN``); return their limits."""
    drawn = []
    for key, limit in sorted(plots.limits.items()):
        if not key.startswith("latency_ms.p"):
            continue
        name = key.removeprefix("latency_ms.")
        q = _quantile(name)
        x = 1 / (1 - q) if at_percentile and q is not None and q < 1 else None
        _gate(ax, limit, f"gate: {name} ≤ {limit:g} ms", x=x)
        drawn.append(limit)
    return drawn


def _quantile(name: str) -> float | None:
    """``p99`` -> 0.99, ``p999`` -> 0.999, ``p50`` -> 0.5."""
    digits = name.removeprefix("p")
    if not digits.isdigit():
        return None
    return float(f"0.{digits}") if len(digits) > 2 else int(digits) / 100


def _latency_scale(ax: Axes, values: list[float], limits: list[float]) -> None:
    """A log latency axis when the lines lie far apart, else linear from 0."""
    positive = [v for v in [*values, *limits] if v > 0]
    if positive and max(positive) / min(positive) > _LOG_Y_SPREAD:
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    else:
        ax.set_ylim(0, max([*positive, 1e-3]) * 1.12)


def latency_percentiles(plots: Plots) -> str | None:
    """Transit latency against the percentile, on a log axis of ``1/(1-p)``
    (HdrHistogram style: the tail, what gates judge, gets as much room as the
    median), one line per codec, dotted per track when a codec has several;
    the latency gates dashed. ``None`` without a send log."""
    if not plots.latency_percentiles:
        return None
    colors = _colors(plots)
    with matplotlib.rc_context(_RC):
        figure = _figure()
        ax = figure.axes[0]
        values: list[float] = []
        tracks = sum(len(t) for t in plots.track_percentiles.values())
        show_tracks = len(plots.latency_percentiles) + tracks <= _MAX_LINES
        for codec, (ms, qs) in plots.latency_percentiles.items():
            nines = [1 / (1 - q) for q in qs]
            ax.plot(nines, ms, label=codec, color=colors.get(codec), linewidth=1.6)
            values += ms
            by_track = plots.track_percentiles.get(codec, {}) if show_tracks else {}
            for t, (track, (tms, tqs)) in enumerate(by_track.items()):
                ax.plot(
                    [1 / (1 - q) for q in tqs],
                    tms,
                    label=f"{codec} {track}",
                    color=colors.get(codec),
                    linewidth=0.9,
                    linestyle=(":", "-.", "--")[t % 3],
                )
        ax.set_xscale("log")
        ax.set_xlim(1, 1e5)
        ax.xaxis.set_major_locator(FixedLocator([x for x, _ in _NINES]))
        ax.xaxis.set_major_formatter(FixedFormatter([label for _, label in _NINES]))
        ax.xaxis.set_minor_locator(NullLocator())
        limits = _latency_gates(ax, plots, at_percentile=True)
        _latency_scale(ax, values, limits)
        ax.set_xlabel("percentile (log scale of 1/(1-p): each tick one more nine)")
        ax.set_ylabel("transit latency (ms)")
        ax.legend(loc="lower right", fontsize=7.5)
        return _svg(figure)


def _time_label(bin_s: float, what: str = "") -> str:
    bins = f", {bin_s:g} s {what}bins" if bin_s else ""
    return f"seconds since the first request{bins}"


def latency_over_time(plots: Plots) -> str | None:
    """Transit latency p99 (solid) and p50 (thin) per codec per time bin, the
    latency gates dashed; ``None`` without a send log."""
    if not plots.latency_over_time:
        return None
    colors = _colors(plots)
    with matplotlib.rc_context(_RC):
        figure = _figure()
        ax = figure.axes[0]
        values: list[float] = []
        handles = []
        for codec, (xs, p50, p99) in plots.latency_over_time.items():
            color = colors.get(codec)
            dots = "o" if len(xs) < 3 else None  # a line of one point is not drawn
            ax.plot(xs, p99, color=color, linewidth=1.4, marker=dots, markersize=3)
            ax.plot(
                xs,
                p50,
                color=color,
                linewidth=0.8,
                linestyle="--",
                marker=dots,
                markersize=2,
            )
            handles.append(Line2D([], [], color=color, linewidth=1.4, label=codec))
            values += [*p50, *p99]
        handles += [
            Line2D([], [], color="0.35", linewidth=1.4, label="p99"),
            Line2D([], [], color="0.35", linewidth=0.8, linestyle="--", label="p50"),
        ]
        limits = _latency_gates(ax, plots, at_percentile=False)
        _latency_scale(ax, values, limits)
        ax.set_xlim(left=0)
        ax.set_xlabel(_time_label(plots.time_bin_s))
        ax.set_ylabel("transit latency (ms)")
        ax.legend(
            handles=handles,
            loc="upper left",
            bbox_to_anchor=(1.01, 1.0),
            fontsize=7.5,
            frameon=False,
        )
        return _svg(figure)


def streams_live(plots: Plots) -> str | None:
    """Streams live at the receivers over the run, as a step."""
    xs, ys = plots.streams_over_time
    if not xs or not any(ys):
        return None
    with matplotlib.rc_context(_RC):
        figure = _figure(height=2.4)
        ax = figure.axes[0]
        ax.step(xs, ys, where="post", color="C0", linewidth=1.2)
        ax.fill_between(xs, ys, step="post", color="C0", alpha=0.15, linewidth=0)
        ax.set_xlim(left=0)
        ax.set_ylim(bottom=0)
        ax.set_xlabel(_time_label(0))
        ax.set_ylabel("streams live")
        return _svg(figure)


def failures(plots: Plots) -> str | None:
    """Failed start and stop requests and recorded rule violations per bin."""
    if not plots.errors_over_time:
        return None
    colors = {"failed start requests": "tab:red", "failed stop requests": "tab:orange"}
    with matplotlib.rc_context(_RC):
        figure = _figure(height=2.4)
        ax = figure.axes[0]
        bottom: list[float] | None = None
        for kind, (xs, counts) in plots.errors_over_time.items():
            ax.bar(
                xs,
                counts,
                width=plots.errors_bin_s,
                align="edge",
                bottom=bottom,
                label=kind,
                color=colors.get(kind, "tab:purple"),
                linewidth=0,
            )
            bottom = (
                counts
                if bottom is None
                else [a + b for a, b in zip(bottom, counts, strict=True)]
            )
        ax.set_xlim(left=0)
        ax.set_xlabel(_time_label(plots.errors_bin_s))
        ax.set_ylabel("count per bin")
        ax.legend(loc="upper left", fontsize=7.5)
        return _svg(figure)


def harness(plots: Plots) -> str | None:
    """Each producer's event-loop CPU and loop lag p99 over the run, with the
    saturation limits (docs/performance.md §2) dashed."""
    if not plots.harness_over_time:
        return None
    with matplotlib.rc_context(_RC):
        figure = _figure(height=4.0, rows=2)
        cpu_ax, lag_ax = figure.axes
        for i, (producer, (xs, cpu, lag)) in enumerate(plots.harness_over_time.items()):
            color = _PALETTE[i % len(_PALETTE)]
            cpu_ax.plot(
                xs, [100 * c for c in cpu], color=color, linewidth=1, label=producer
            )
            lag_ax.plot(xs, lag, color=color, linewidth=1)
        cpu_limit = plots.limits.get("harness.loop_cpu")
        if cpu_limit is not None:
            _gate(cpu_ax, 100 * cpu_limit, f"saturated above {100 * cpu_limit:g} %")
        lag_limit = plots.limits.get("harness.lag_p99_ms")
        if lag_limit is not None:
            _gate(lag_ax, lag_limit, f"saturated above {lag_limit:g} ms")
        cpu_ax.set_ylim(0, 105)
        lag_ax.set_ylim(bottom=0)
        cpu_ax.set_ylabel("loop CPU (% of a core)")
        lag_ax.set_ylabel("loop lag p99 (ms)")
        lag_ax.set_xlabel(_time_label(0))
        for ax in figure.axes:
            ax.set_xlim(left=0)
        cpu_ax.legend(loc="upper left", fontsize=7, ncols=3)
        return _svg(figure)


_BARS: Final = (
    ("latency (ms)", ("latency_ms.p50", "latency_ms.p99"), 1.0, "ms"),
    ("jitter (ms)", ("jitter_ms.p50", "jitter_ms.p99"), 1.0, "ms"),
    ("loss (%)", ("loss_ratio",), 100.0, "%"),
)


def codecs(plots: Plots) -> str | None:
    """Per codec, bars of latency p50/p99, jitter p50/p99 and loss, the gates
    dashed (named in the panel's title); a value the run could not measure
    is marked n/a."""
    if not plots.codec_bars:
        return None
    names = list(plots.codec_bars)
    colors = _colors(plots)
    with matplotlib.rc_context(_RC):
        figure = _figure(height=2.8, cols=3)
        for ax, (title, keys, scale, unit) in zip(figure.axes, _BARS, strict=True):
            width = 0.8 / len(keys)
            gates = []
            for i, codec in enumerate(names):
                values = [plots.codec_bars[codec].get(key) for key in keys]
                if all(v is None for v in values):
                    ax.text(i, 0, "n/a", ha="center", va="bottom", fontsize=7)
                for k, value in enumerate(values):
                    if value is not None:
                        bars = ax.bar(
                            i + (k - (len(keys) - 1) / 2) * width,
                            value * scale,
                            width=width * 0.95,
                            color=colors.get(codec),
                            alpha=1.0 if k == len(keys) - 1 else 0.45,
                        )
                        ax.bar_label(bars, fmt="{:.3g}", fontsize=6.5, padding=1)
            for key in keys:
                limit = plots.limits.get(key)
                if limit is not None:
                    ax.axhline(
                        limit * scale, color="tab:red", linestyle="--", linewidth=1
                    )
                    name = key.split(".")[-1].replace("_ratio", "")
                    gates.append(f"gate {name} ≤ {limit * scale:g} {unit}")
            ax.set_xticks(range(len(names)), names)
            if len(names) > 2:
                ax.tick_params(axis="x", labelrotation=30)
                for label in ax.get_xticklabels():
                    label.set_horizontalalignment("right")
            shade = "" if len(keys) == 1 else "\np50 light, p99 dark"
            ax.set_title(
                title
                + shade
                + ("\n" + ", ".join(gates) + " (dashed)" if gates else ""),
                fontsize=7.5,
            )
            ax.set_ylim(0, max(ax.get_ylim()[1], 1e-3) * 1.12)  # room for labels
            ax.grid(axis="x", visible=False)
        return _svg(figure)


def setup_histogram(plots: Plots) -> str | None:
    """Setup latency (start request sent -> ``start`` received) per codec."""
    if not plots.setup_counts:
        return None
    colors = _colors(plots)
    with matplotlib.rc_context(_RC):
        figure = _figure()
        ax = figure.axes[0]
        edges = plots.setup_edges_ms
        for codec, counts in plots.setup_counts.items():
            ax.stairs(counts, edges, label=codec, color=colors.get(codec))
        limit = plots.limits.get("setup_ms.p99")
        if limit is not None and limit <= 2 * edges[-1]:
            ax.axvline(
                limit,
                color="tab:red",
                linestyle="--",
                linewidth=1,
                label=f"gate: p99 ≤ {limit:g} ms",
            )
        ax.set_xlabel(
            "setup latency (ms): start request sent to start message received"
        )
        ax.set_ylabel("streams")
        ax.legend(loc="upper right", fontsize=7.5)
        return _svg(figure)


_CAPACITY: Final = (
    ("latency_ms.p99", "latency p99 (ms)"),
    ("jitter_ms.p99", "jitter p99 (ms)"),
    ("setup_ms.p99", "setup p99 (ms)"),
    ("requests.error_ratio", "request error ratio"),
)


def capacity(result: Mapping[str, Any]) -> str | None:
    """Concurrent streams against p99 latency, jitter, setup time and the error
    ratio, one panel each, a point per level (red: it broke a gate), the gates'
    limits dashed, the answer (held, broke at) dotted; ``None`` when no level
    has data."""
    levels = [lv for lv in result.get("levels", []) if lv.get("plot")]
    if not levels:
        return None
    limits = result.get("limits", {})
    with matplotlib.rc_context(_RC):
        # a fixed layout: constrained layout and tight cropping cost seconds
        figure = Figure(figsize=(_SIZE[0], 4.4))
        figure.subplots_adjust(left=0.09, right=0.98, top=0.89, bottom=0.1)
        figure.subplots_adjust(hspace=0.3, wspace=0.25)
        axes = figure.subplots(2, 2, sharex=True)
        for ax, (key, label) in zip(axes.flat, _CAPACITY, strict=True):
            points = sorted(
                (lv["users"], lv["plot"][key], lv["result"])
                for lv in levels
                if lv["plot"].get(key) is not None
            )
            if points:
                ax.plot(
                    [u for u, _, _ in points], [v for _, v, _ in points], color="0.6"
                )
                for verdict, color in (("pass", "tab:green"), ("fail", "tab:red")):
                    mine = [(u, v) for u, v, r in points if r == verdict]
                    if mine:
                        ax.scatter(
                            *zip(*mine, strict=True), color=color, s=14, zorder=3
                        )
            if key in limits:
                ax.axhline(limits[key], color="tab:red", linestyle="--", linewidth=1)
            _answer(ax, result)
            ax.set_title(label, fontsize=9)
            ax.set_ylim(bottom=0)
        for ax in axes[1]:
            ax.set_xlabel("concurrent streams (users)")
        answer = [
            f"{name} {result[key]} users"
            for key, name in (("largest_held", "held"), ("first_broken", "broke at"))
            if result.get(key) is not None
        ]
        if answer:
            figure.suptitle(
                "; ".join(answer) + " (dotted); gates dashed",
                fontsize=8.5,
                y=0.99,
                va="top",
            )
        return _svg(figure)


def _answer(ax: Axes, result: Mapping[str, Any]) -> None:
    """The search's answer as dotted verticals: the largest level that held
    (green) and the least that broke for good (red)."""
    for key, color in (("largest_held", "tab:green"), ("first_broken", "tab:red")):
        if result.get(key) is not None:
            ax.axvline(result[key], color=color, linestyle=":", linewidth=1.2)
