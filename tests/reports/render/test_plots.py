"""reports.render.plots: every plot drawn from real records, deterministic, small,
and a one-line "not shown" note where its data is absent."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from reports.capacity import knee
from reports.load import load_run
from reports.render import html
from reports.render.plots import (
    Figured,
    capacity,
    figures,
    harness,
    latency_percentiles,
)
from reports.summary import Report, build_report
from tests.reports.helpers import DEFAULT_THRESHOLDS, MS, T0, RunBuilder


TITLES = (
    "Transit latency by percentile",
    "Transit latency over time",
    "Codecs side by side",
    "Streams live",
    "Failures over time",
    "Harness CPU and loop lag",
    "Setup latency",
)


def _health(build: RunBuilder, producer: str, seconds: int, lag_ms: int = 1) -> None:
    """One ``health`` row a second, as the producers write them."""
    for s in range(1, seconds + 1):
        build.receiver.add(
            "health",
            (producer, "receiver", T0 + s * 1000 * MS, 1000 * MS, 300 * MS,
             200 * MS + s * MS, 100, lag_ms * MS, 2 * lag_ms * MS, 1, MS, MS, 2**26),
        )  # fmt: skip


def build_rich(root: Path, *, streams: int = 6, seconds: int = 8) -> Path:
    """Two codecs (PCMA on both tracks), a slow stream, failed requests, a
    violation and the producers' health: data for every plot."""
    build = RunBuilder(root)
    for i in range(streams):
        sid, req, codec = f"MZ{i}", f"req-{i}", ("PCMU", "PCMA")[i % 2]
        start = T0 + i * 500 * MS
        build.request(req, stream_sid=sid, codec=codec, sent_ns=start - 50 * MS)
        build.platform_stream(sid, req, codec=codec, frames_sent=seconds * 50)
        build.stream(
            sid, req, codec=codec, start_ns=start, first_media_ns=start + 20 * MS,
            stop_ns=start + seconds * 1000 * MS,
        )  # fmt: skip
        tracks = ("inbound", "outbound") if codec == "PCMA" else ("inbound",)
        for track in tracks:
            build.media(
                sid, track=track, chunks=seconds * 50, first_ns=start + 20 * MS,
                latency_ns=(40 if i == 1 else 1 + i) * MS,
            )  # fmt: skip
    build.request("req-bad", status=503, sent_ns=T0 + 2_000 * MS, error="HTTP 503")
    build.receiver.add(
        "violations",
        ("receiver", "WS-SEQ-001", "MZ0", 7, "8", "9", T0 + 3_000 * MS),
    )
    _health(build, "receiver-0", seconds)
    return build.write()


@pytest.fixture(scope="module")
def rich(tmp_path_factory: pytest.TempPathFactory) -> Report:
    run_dir = build_rich(tmp_path_factory.mktemp("rich"))
    return build_report(load_run(run_dir), DEFAULT_THRESHOLDS)


@pytest.fixture(scope="module")
def drawn(rich: Report) -> list[Figured]:
    """Every plot of the rich run, rendered once for the module."""
    return figures(rich.plots)


def test_every_plot_is_drawn_from_a_small_real_run(drawn: list[Figured]) -> None:
    assert [f.title for f in drawn] == list(TITLES)
    for figure in drawn:
        assert figure.svg is not None, figure
        assert figure.svg.startswith("<svg") and figure.svg.endswith("</svg>")
        assert "<metadata>" not in figure.svg and "<?xml" not in figure.svg
    by_title = {f.title: f.svg or "" for f in drawn}
    # one line per codec, and per track for the codec on both
    percentile = by_title["Transit latency by percentile"]
    for label in ("PCMU", "PCMA", "PCMA inbound", "PCMA outbound"):
        assert f">{label}</text>" in percentile
    assert ">rule violations (evidence rows)</text>" in by_title["Failures over time"]
    assert ">failed start requests</text>" in by_title["Failures over time"]
    assert ">receiver-0</text>" in by_title["Harness CPU and loop lag"]


def _ticks(svg: str) -> dict[str, float]:
    """Tick label -> its x position, for the percentile labels."""
    found = re.findall(r'<text[^>]*\bx="([\d.]+)"[^>]*>([\d.]+%)</text>', svg)
    return {label: float(x) for x, label in found}


def test_the_percentile_axis_is_log_nines(drawn: list[Figured]) -> None:
    svg = drawn[0].svg
    assert svg is not None and drawn[0].title == "Transit latency by percentile"
    ticks = _ticks(svg)
    assert list(ticks) == ["0%", "50%", "90%", "99%", "99.9%", "99.99%", "99.999%"]
    # each further nine is the same distance to the right: 1/(1-p) on a log axis
    steps = [ticks[b] - ticks[a] for a, b in zip(
        ("0%", "90%", "99%", "99.9%", "99.99%"),
        ("90%", "99%", "99.9%", "99.99%", "99.999%"), strict=True,
    )]  # fmt: skip
    assert max(steps) - min(steps) < 0.01 and steps[0] > 50


def test_latency_gates_are_drawn(rich: Report, drawn: list[Figured]) -> None:
    assert rich.plots.limits["latency_ms.p99"] == 50
    by_title = {f.title: f.svg or "" for f in drawn}
    for title in ("Transit latency by percentile", "Transit latency over time"):
        assert ">gate: p99 \u2264 50 ms</text>" in by_title[title]
    assert "gate p99 \u2264 50 ms (dashed)" in by_title["Codecs side by side"]
    assert "saturated above 85 %" in by_title["Harness CPU and loop lag"]


def test_the_same_run_renders_the_same_bytes(
    drawn: list[Figured], tmp_path: Path
) -> None:
    """Built again from records written again: the same bytes (the percentile
    and the time series plots, the ones with the most paths and text)."""
    again = build_report(load_run(build_rich(tmp_path)), DEFAULT_THRESHOLDS)
    assert latency_percentiles(again.plots) == drawn[0].svg
    assert harness(again.plots) == drawn[5].svg


def test_a_plot_without_data_is_a_one_line_note(failing_report: Report) -> None:
    page = html.render(failing_report.summary, failing_report.plots)
    assert (
        "<li>Harness CPU and loop lag: not shown: no producer wrote health "
        "records.</li>" in page
    )
    captions = re.findall(r"<figure><figcaption>([^<]*)</figcaption><svg", page)
    assert "Harness CPU and loop lag" not in captions
    assert "Transit latency by percentile" in captions
    assert len(captions) + page.count(": not shown: ") == len(TITLES)


def test_without_a_send_log_latency_plots_say_why(tmp_path: Path) -> None:
    build = RunBuilder(tmp_path)
    build.request("req-1", stream_sid="MZ1")
    build.stream("MZ1", "req-1")
    build.media("MZ1", chunks=50, log=False)
    plots = build_report(load_run(build.write()), DEFAULT_THRESHOLDS).plots
    assert plots.latency_percentiles == {} and plots.latency_over_time == {}
    assert plots.streams_over_time[1][:2] == [0.0, 1.0]
    made = {f.title: f for f in figures(dataclasses.replace(plots, setup_counts={}))}
    for title in ("Transit latency by percentile", "Transit latency over time"):
        assert made[title].svg is None
        assert "send log" in made[title].why
    assert made["Streams live"].svg is not None


def test_a_long_run_stays_small(tmp_path: Path) -> None:
    """An hour of records: every series is cut to 600 points, the plots stay small."""
    build = RunBuilder(tmp_path)
    for i in range(120):  # one short stream every 30 s
        sid, start = f"MZ{i}", T0 + i * 30_000 * MS
        build.request(f"req-{i}", stream_sid=sid, sent_ns=start - 10 * MS)
        build.stream(sid, f"req-{i}", start_ns=start, stop_ns=start + 2_000 * MS)
        build.media(sid, chunks=100, first_ns=start, latency_ns=(1 + i % 7) * MS)
    _health(build, "receiver-0", 3600)
    _health(build, "receiver-1", 3600, lag_ms=2)
    report = build_report(load_run(build.write()), DEFAULT_THRESHOLDS)
    plots = report.plots
    assert plots.time_bin_s == 6.0
    assert all(len(xs) <= 600 for xs, _, _ in plots.latency_over_time.values())
    assert all(len(xs) <= 600 for xs, _, _ in plots.harness_over_time.values())
    assert len(plots.streams_over_time[0]) <= 600
    total = sum(len(f.svg or "") for f in figures(plots))
    assert total < 400_000


def test_the_capacity_curve_marks_the_answer_and_the_gates() -> None:
    levels = [
        {
            "users": users,
            "result": result,
            "failed": [{"name": "latency_ms.p99"}] if result == "fail" else [],
            "plot": {"latency_ms.p99": p99, "requests.error_ratio": 0.0},
        }
        for users, p99, result in ((10, 20, "pass"), (20, 40, "pass"), (30, 90, "fail"))
    ]
    result = {**knee(levels, 1), "limits": {"latency_ms.p99": 50}}
    svg = capacity(result)
    assert svg is not None
    assert ">held 20 users; broke at 30 users (dotted); gates dashed</text>" in svg
    assert capacity({"levels": [{"users": 5, "result": "no-data"}]}) is None
