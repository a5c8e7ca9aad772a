"""The report's plots as inline SVG strings (no files, no pyplot global state).

Figures are built with :class:`matplotlib.figure.Figure` directly and saved
through matplotlib's SVG backend, which needs no display, so rendering is safe
in CI and in threads. Text stays text (``svg.fonttype: none``) and ids are
salted with a constant, so the same run renders the same bytes.
"""

from __future__ import annotations

import io
import re
from typing import Any, Final

import matplotlib
from matplotlib.figure import Figure
from matplotlib.typing import RcKeyType

from reports.performance import Plots


__all__ = ["frames_per_second", "latency_cdf", "setup_histogram"]

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


def _svg(figure: Figure) -> str:
    """Serialise ``figure`` as an ``<svg>`` element fit to inline in HTML."""
    buffer = io.StringIO()
    with matplotlib.rc_context(_RC):
        figure.savefig(
            buffer, format="svg", bbox_inches="tight", metadata={"Date": None}
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
