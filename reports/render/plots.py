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
from typing import Any, Final

import matplotlib
from matplotlib.figure import Figure
from matplotlib.typing import RcKeyType

from reports.performance import Plots


__all__ = ["capacity", "frames_per_second", "latency_cdf", "setup_histogram"]

_RC: Final[dict[RcKeyType, Any]] = {
    "svg.fonttype": "none",
    "svg.hashsalt": "streamload",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
}
_SIZE: Final = (6.4, 3.0)
_PROLOGUE = re.compile(r"^.*?(?=<svg\b)", re.S)
_METADATA = re.compile(r"<metadata>.*?</metadata>\s*", re.S)


def _svg(figure: Figure, *, tight: bool = True) -> str:
    """Serialise ``figure`` as an ``<svg>`` element fit to inline in HTML
    (``tight``: cropped to what is drawn, which costs a second layout pass)."""
    buffer = io.StringIO()
    with matplotlib.rc_context(_RC):
        figure.savefig(
            buffer,
            format="svg",
            bbox_inches="tight" if tight else None,
            metadata={"Date": None},
        )
    text = _PROLOGUE.sub("", buffer.getvalue(), count=1)
    return _METADATA.sub("", text).strip()


def _figure() -> Figure:
    with matplotlib.rc_context(_RC):
        figure = Figure(figsize=_SIZE, layout="constrained")
        figure.add_subplot()
    return figure


def latency_cdf(plots: Plots) -> str | None:
    """Transit latency CDF per codec, or ``None`` without a send log."""
    if not plots.latency_cdf:
        return None
    with matplotlib.rc_context(_RC):
        figure = _figure()
        ax = figure.axes[0]
        for codec, (xs, qs) in plots.latency_cdf.items():
            ax.plot(xs, qs, label=codec, drawstyle="steps-post")
        ax.set_xlabel("transit latency (ms)")
        ax.set_ylabel("fraction of frames")
        ax.set_ylim(0, 1.02)
        ax.legend(loc="lower right")
        return _svg(figure)


def frames_per_second(plots: Plots) -> str | None:
    """Frames received per second over the run, per codec."""
    if not plots.frames_per_second:
        return None
    with matplotlib.rc_context(_RC):
        figure = _figure()
        ax = figure.axes[0]
        for codec, (starts, rates) in plots.frames_per_second.items():
            ax.step(starts, rates, where="post", label=codec)
        width = f"{plots.rate_bin_s:g} s bins" if plots.rate_bin_s != 1 else "1 s bins"
        ax.set_xlabel(f"seconds since the first frame ({width})")
        ax.set_ylabel("frames received / s")
        ax.set_ylim(bottom=0)
        ax.legend(loc="lower right")
        return _svg(figure)


def setup_histogram(plots: Plots) -> str | None:
    """Setup latency (start request sent -> ``start`` received) per codec."""
    if not plots.setup_counts:
        return None
    with matplotlib.rc_context(_RC):
        figure = _figure()
        ax = figure.axes[0]
        edges = plots.setup_edges_ms
        for codec, counts in plots.setup_counts.items():
            ax.stairs(counts, edges, label=codec)
        ax.set_xlabel("setup latency (ms)")
        ax.set_ylabel("streams")
        ax.legend(loc="upper right")
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
    limits dashed; ``None`` when no level has data."""
    levels = [lv for lv in result.get("levels", []) if lv.get("plot")]
    if not levels:
        return None
    limits = result.get("limits", {})
    with matplotlib.rc_context(_RC):
        # a fixed layout: constrained layout and tight cropping cost seconds
        figure = Figure(figsize=(_SIZE[0], 4.4))
        figure.subplots_adjust(left=0.09, right=0.98, top=0.94, bottom=0.1)
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
            ax.set_title(label, fontsize=9)
            ax.set_ylim(bottom=0)
        for ax in axes[1]:
            ax.set_xlabel("concurrent streams (users)")
        return _svg(figure, tight=False)
