"""reports.render.plots: SVG strings, deterministic, absent without data."""

from __future__ import annotations

from reports.performance import Plots
from reports.render.plots import frames_per_second, latency_cdf, setup_histogram
from reports.summary import Report


def test_each_plot_is_one_inline_svg_element(failing_report: Report) -> None:
    for make in (latency_cdf, frames_per_second, setup_histogram):
        svg = make(failing_report.plots)
        assert svg is not None
        assert svg.startswith("<svg") and svg.endswith("</svg>")
        assert "<metadata>" not in svg and "<?xml" not in svg


def test_the_same_data_renders_the_same_bytes(failing_report: Report) -> None:
    assert latency_cdf(failing_report.plots) == latency_cdf(failing_report.plots)


def test_no_data_no_plot() -> None:
    empty = Plots({}, 1.0, {}, [], {})
    assert latency_cdf(empty) is None
    assert frames_per_second(empty) is None
    assert setup_histogram(empty) is None
