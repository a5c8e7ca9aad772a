"""harness.core.trend: the noise band is robust, floored, and flags only real moves."""

from __future__ import annotations

import statistics
from typing import Any

import pytest
from hypothesis import given, strategies as st

from harness.core.errors import ConfigError
from harness.core.trend import (
    Band,
    Rule,
    better_for,
    failed_gates,
    floor_for,
    judge,
    label_for,
    noise_band,
    trend,
)


values = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)
histories = st.lists(values, min_size=3, max_size=30)
floors = st.floats(min_value=0.0, max_value=100.0, allow_nan=False)


@given(histories, floors, st.floats(min_value=0.0, max_value=1.0))
def test_the_band_is_centred_on_the_median_and_never_narrower_than_its_floors(
    history: list[float], floor: float, rel: float
) -> None:
    band = noise_band(history, Rule(rel=rel, window=100), floor)
    assert band is not None
    assert band.center == statistics.median(history)
    assert band.half >= floor
    assert band.half >= rel * abs(band.center) - 1e-9
    assert judge(band.center, band, "lower") == "within"


@given(st.lists(values, max_size=2))
def test_too_little_history_is_not_judged(history: list[float]) -> None:
    assert noise_band(history, Rule(min_history=3), 1.0) is None


@given(
    histories,
    values,
    st.floats(min_value=-1e3, max_value=1e3, allow_nan=False),
    st.floats(min_value=0.01, max_value=100.0),
)
def test_the_flag_does_not_depend_on_units_or_offset(
    history: list[float], value: float, shift: float, scale: float
) -> None:
    """Without a floor or relative band, the rule is affine-invariant: judging
    in ms or s, or on a shifted scale, gives the same flag (away from the edge)."""
    rule = Rule(rel=0.0, window=100)
    band = noise_band(history, rule, 0.0)
    assert band is not None
    edge = min(abs(value - band.low), abs(value - band.high))
    if edge <= 1e-6 * (1 + abs(value) + band.half):
        return  # floating point may land either side of the edge itself
    moved = noise_band([h * scale + shift for h in history], rule, 0.0)
    assert moved is not None
    assert judge(value * scale + shift, moved, "lower") == judge(value, band, "lower")


@given(
    st.floats(min_value=-1e3, max_value=1e3, allow_nan=False),
    st.lists(st.floats(min_value=-1.0, max_value=1.0), min_size=3, max_size=20),
    st.floats(min_value=6.0, max_value=50.0),
)
def test_jitter_under_the_floor_never_flags_and_a_step_past_it_always_does(
    center: float, jitter: list[float], floor: float
) -> None:
    """A quiet metric (moves of at most 1 against a floor of 6 or more) stays
    quiet; a value a floor and more beyond the history's edge is flagged."""
    history = [center + j for j in jitter]
    band = noise_band(history, Rule(rel=0.0, window=100), floor)
    assert band is not None
    assert band.half == pytest.approx(floor)  # 3.5 x 1.4826 x MAD <= 5.19 < floor
    for j in jitter:
        assert judge(center + j, band, "lower") == "within"
    assert judge(max(history) + floor + 1.0, band, "lower") == "worse"
    assert judge(min(history) - floor - 1.0, band, "lower") == "better"


@given(
    st.lists(st.floats(min_value=9.0, max_value=11.0), min_size=5, max_size=20),
    st.floats(min_value=1e3, max_value=1e6),
)
def test_one_wild_run_in_the_history_does_not_blind_the_band(
    quiet: list[float], wild: float
) -> None:
    """The median and MAD ignore a single outlier: a run like the quiet ones
    stays within, and a second wild run is still flagged."""
    history = [*quiet[:2], wild, *quiet[2:]]
    band = noise_band(history, Rule(window=100), 2.0)
    assert band is not None
    assert judge(10.0, band, "lower") == "within"
    assert judge(wild, band, "lower") == "worse"


def test_the_window_keeps_only_the_latest_runs() -> None:
    band = noise_band([1000.0] * 10 + [10.0] * 3, Rule(window=3), 0.0)
    assert band == Band(center=10.0, half=2.0, history=3)


@pytest.mark.parametrize(
    ("better", "value", "flag"),
    [
        ("lower", 20.0, "worse"),
        ("lower", 0.0, "better"),
        ("higher", 20.0, "better"),
        ("higher", 0.0, "worse"),
        (None, 20.0, "changed"),
        (None, 0.0, "changed"),
        ("lower", 10.5, "within"),
    ],
)
def test_the_flag_follows_the_better_direction(
    better: Any, value: float, flag: str
) -> None:
    assert judge(value, Band(center=10.0, half=1.0, history=5), better) == flag


def summary(p99: dict[str, float], verdict: str = "pass") -> dict[str, Any]:
    codecs = {c: {"latency_ms": {"p99": v}, "loss_ratio": 0.0} for c, v in p99.items()}
    return {
        "verdict": verdict,
        "run": {"duration_s": 10.0},
        "performance": {
            "codecs": codecs,
            "requests": {"error_ratio": 0.0, "by_kind": {"start": {"count": 40}}},
        },
        "thresholds": [{"name": "latency_ms.p99", "result": "fail"}]
        if verdict == "fail"
        else [],
    }


@given(
    st.lists(st.floats(min_value=4.0, max_value=6.0), min_size=4, max_size=12),
    st.floats(min_value=40.0, max_value=500.0),
)
def test_a_step_flags_exactly_the_run_that_stepped(
    quiet: list[float], step: float
) -> None:
    docs = [summary({"PCMU": v}) for v in quiet] + [summary({"PCMU": 5.0 + step})]
    (series,) = trend(docs, ["performance.codecs.*.latency_ms.p99"])
    flags = [p.flag for p in series.points]
    assert flags[:3] == ["no-history"] * 3
    assert flags[3:-1] == ["within"] * (len(quiet) - 3)
    assert flags[-1] == "worse"


def test_a_wildcard_gives_one_series_per_key_and_max_takes_the_worst() -> None:
    docs = [summary({"PCMU": 1.0, "PCMA": 2.0}), summary({"PCMU": 3.0})]
    per = trend(docs, ["performance.codecs.*.latency_ms.p99"])
    assert [s.label for s in per] == ["PCMA latency_ms.p99", "PCMU latency_ms.p99"]
    assert [p.value for p in per[0].points] == [2.0, None]
    (worst,) = trend(docs, ["max:performance.codecs.*.latency_ms.p99"])
    assert worst.label == "worst codec latency_ms.p99"
    assert [p.value for p in worst.points] == [2.0, 3.0]
    (rate,) = trend(docs, ["starts_per_s"])
    assert [p.value for p in rate.points] == [4.0, 4.0] and rate.better == "higher"
    (verdict,) = trend(docs, ["verdict"])
    assert verdict.text and [p.value for p in verdict.points] == ["pass", "pass"]


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ("performance.codecs.PCMU.latency_ms.p98", "did you mean"),
        ("performance..p99", "empty part"),
        ("avg:performance.codecs.*.loss_ratio", "not an aggregate"),
        ("max:performance.requests.error_ratio", "needs a '*'"),
        ("performance.codecs.*.nothing", "none of the 1 runs"),
    ],
)
def test_a_bad_metric_is_named_with_its_fix(spec: str, words: str) -> None:
    with pytest.raises(ConfigError) as info:
        trend([summary({"PCMU": 1.0})], [spec])
    assert spec in str(info.value) and words in str(info.value)
    assert "e.g. performance.codecs.PCMU.latency_ms.p99" in str(info.value)


def test_floors_directions_labels_and_failed_gates() -> None:
    assert floor_for("performance.codecs.PCMU.latency_ms.p99") == 20.0
    assert floor_for("performance.codecs.PCMU.latency_ms.p50") == 2.0
    assert floor_for("max:performance.codecs.*.setup_ms.p99") == 100.0
    assert floor_for("performance.requests.error_ratio") == 0.001
    assert floor_for("starts_per_s") == 0.0
    assert better_for("performance.requests.error_ratio") == "lower"
    assert better_for("starts_per_s") == "higher"
    assert better_for("run.records.frames") is None
    assert label_for("performance.requests.error_ratio") == "requests.error_ratio"
    assert label_for("min:performance.codecs.*.latency_ms.min") == (
        "best codec latency_ms.min"
    )
    assert failed_gates(summary({"PCMU": 1.0}, "fail")) == ["latency_ms.p99"]
    assert failed_gates({"thresholds": "odd"}) == []
