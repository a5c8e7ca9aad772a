"""``--fault`` parsing, the ready-line echo, and the seeded per-stream draws."""

from __future__ import annotations

import random

import pytest

from harness.core.errors import ConfigError
from harness.platform.core.faults import (
    FAULT_NAMES,
    Faults,
    Jitter,
    format_duration,
    parse_duration,
    parse_faults,
    plan_stream,
    stream_rng,
)


@pytest.mark.parametrize(
    ("text", "ns"),
    [("5ms", 5_000_000), ("1.5s", 1_500_000_000), ("250us", 250_000), ("7ns", 7),
     (".5ms", 500_000), ("0ms", 0), ("5", None), ("ms", None), ("-1ms", None),
     ("5 ms", None)],
)  # fmt: skip
def test_durations(text: str, ns: int | None) -> None:
    assert parse_duration(text) == ns
    if ns:
        assert parse_duration(format_duration(ns)) == ns


def test_every_impairment_parses_and_echoes_in_its_own_spelling() -> None:
    specs = [
        "delay=5ms", "jitter=normal:2ms", "loss=0.01", "duplicate=0.005",
        "reorder=0.005", "stall=0.001:200ms", "disconnect=0.01:2s",
        "start-delay=500ms", "start-fail=0.05", "api-error=0.01", "api-latency=50ms",
    ]  # fmt: skip
    faults = parse_faults(specs)
    assert faults == Faults(
        delay_ns=5_000_000,
        jitter=Jitter("normal", 2_000_000),
        loss=0.01,
        duplicate=0.005,
        reorder=0.005,
        stall=0.001,
        stall_ns=200_000_000,
        disconnect=0.01,
        disconnect_within_ns=2_000_000_000,
        start_delay_ns=500_000_000,
        start_fail=0.05,
        api_error=0.01,
        api_latency_ns=50_000_000,
    )
    assert faults.network
    assert set(faults.describe()) == set(FAULT_NAMES)
    assert parse_faults(f"{k}={v}" for k, v in faults.describe().items()) == faults
    assert faults.describe()["disconnect"] == "0.01:2s"


def test_no_faults_and_defaults() -> None:
    assert parse_faults([]) == Faults()
    assert Faults().describe() == {}
    assert not Faults().network
    assert not parse_faults(["start-fail=0.5", "api-latency=1ms"]).network
    assert parse_faults(["jitter=2ms"]).jitter == Jitter("uniform", 2_000_000)
    assert parse_faults(["disconnect=1"]).describe() == {"disconnect": "1.0:5s"}


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("bogus=1", "--fault: unknown impairment 'bogus'; use NAME=VALUE with NAME one of delay, jitter, loss, duplicate, reorder, stall, disconnect, start-delay, start-fail, api-error, api-latency"),
        ("loss", "--fault: loss='' is not valid; use e.g. loss=0.01"),
        ("loss=1.5", "--fault: loss='1.5' is not valid; use e.g. loss=0.01"),
        ("loss=often", "--fault: loss='often' is not valid; use e.g. loss=0.01"),
        ("delay=5", "--fault: delay='5' is not valid; use e.g. delay=5ms"),
        ("jitter=pareto:2ms", "--fault: jitter='pareto:2ms' is not valid; use e.g. jitter=2ms"),
        ("jitter=0ms", "--fault: jitter='0ms' is not valid; use e.g. jitter=2ms"),
        ("stall=0.1", "--fault: stall='0.1' is not valid; use e.g. stall=0.001:200ms"),
        ("disconnect=0.1:1ms", "--fault: disconnect='0.1:1ms' is not valid; use e.g. disconnect=0.01"),
    ],
)  # fmt: skip
def test_bad_values_name_the_fix(spec: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_faults([spec])
    assert str(caught.value) == message


def test_a_fault_given_twice_is_refused() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_faults(["delay=1ms", "delay=2ms"])
    assert (
        str(caught.value) == "--fault: delay is given twice; give each impairment once"
    )


@pytest.mark.parametrize("shape", ["uniform", "normal", "exponential"])
def test_jitter_is_never_negative_and_has_its_scale(shape: str) -> None:
    jitter = Jitter(shape, 2_000_000)  # type: ignore[arg-type]
    rng = random.Random(1)
    draws = [jitter.sample(rng) for _ in range(5000)]
    assert min(draws) >= 0
    mean = sum(draws) / len(draws)
    expected = {"uniform": 1e6, "normal": 2e6 * 0.7979, "exponential": 2e6}[shape]
    assert abs(mean - expected) / expected < 0.1
    if shape == "uniform":
        assert max(draws) < 2_000_000


def test_stream_draws_repeat_with_the_seed() -> None:
    faults = Faults(start_fail=0.3, disconnect=0.5, disconnect_within_ns=1_000_000_000)
    plans = [plan_stream(faults, stream_rng(42, i)) for i in range(200)]
    again = [plan_stream(faults, stream_rng(42, i)) for i in range(200)]
    other = [plan_stream(faults, stream_rng(43, i)) for i in range(200)]
    assert plans == again and plans != other
    fails = sum(p.start_fails for p in plans)
    drops = [p.disconnect_chunk for p in plans if p.disconnect_chunk]
    assert 30 < fails < 90 and 60 < len(drops) < 140
    assert min(drops) >= 1 and max(drops) <= 50  # within the first second
    assert plan_stream(Faults(), stream_rng(1, 1)) == plan_stream(
        Faults(), random.Random()
    )
