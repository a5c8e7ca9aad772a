"""harness.core.health: one interval's CPU, lag and GC figures, time passed in."""

from __future__ import annotations

import pytest

from harness.core.health import Figures, HealthWindow, figures


MS = 1_000_000


def test_one_interval_then_the_next_starts_clean() -> None:
    w = HealthWindow("receiver-0", "receiver", 1_000 * MS, 50 * MS, 40 * MS)
    for lag in [*range(1, 100), 500]:  # 100 probes: 0.001 .. 0.099 ms, one 0.5 ms
        w.lag(lag * 10_000)
    w.lag(-300_000)  # woke early: counts as 0
    w.gc("start", 1_100 * MS)
    w.gc("stop", 1_103 * MS)
    w.gc("start", 1_200 * MS)
    w.gc("stop", 1_201 * MS)
    w.gc("stop", 1_202 * MS)  # a stop without its start is ignored
    row = w.row(2_000 * MS, 950 * MS, 640 * MS, 123_456)

    assert row == (
        "receiver-0", "receiver", 2_000 * MS, 1_000 * MS, 900 * MS, 600 * MS,
        101, 990_000, 5_000_000, 2, 4 * MS, 3 * MS, 123_456,
    )  # fmt: skip
    assert w.lag_histogram.total == 101
    empty = w.row(3_000 * MS, 960 * MS, 650 * MS, 1)
    assert empty[3:] == (1_000 * MS, 10 * MS, 10 * MS, 0, 0, 0, 0, 0, 0, 1)


def test_figures_read_a_row_back() -> None:
    w = HealthWindow("platform-0", "platform", 0, 0, 0)
    w.lag(3 * MS)
    row = w.row(500 * MS, 250 * MS, 100 * MS, 1)
    f = figures(row)
    assert f == Figures(500 * MS, 250 * MS, 100 * MS, 3 * MS, 3 * MS)
    assert (f.cpu_share, f.loop_cpu_share) == (0.5, 0.2)
    assert figures(None) == Figures(0, 0, 0, 0, 0)
    assert figures(None).cpu_share == 0.0 == figures(None).loop_cpu_share
    with pytest.raises(TypeError, match="not a health row"):
        figures(("p", "k", 0, "x", 0, 0, 0, 0, 0))
