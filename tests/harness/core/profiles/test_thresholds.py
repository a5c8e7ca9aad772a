"""harness.core.profiles.thresholds: k6-style keys compile to summary paths; mistakes name the fix."""

from __future__ import annotations

import pytest

from harness.core.errors import ConfigError
from harness.core.profiles.thresholds import METRICS, parse_threshold


@pytest.mark.parametrize(
    ("key", "expression", "name", "path", "filter"),
    [
        (
            "jitter_ms.p99",
            "< 5",
            "jitter_ms.p99",
            "performance.codecs.*.jitter_ms.p99",
            "",
        ),
        (
            "jitter_ms.p99{codec=PCMU}",
            "< 5",
            "jitter_ms.p99{codec=PCMU}",
            "performance.codecs.PCMU.jitter_ms.p99",
            "codec=PCMU",
        ),
        (
            "latency_ms{track=inbound,codec=PCMA}",
            "max < 50",
            "latency_ms.max{codec=PCMA,track=inbound}",
            "performance.tracks.PCMA.inbound.latency_ms.max",
            "codec=PCMA,track=inbound",
        ),
        (
            "loss_ratio{track=outbound}",
            "<= 0.001",
            "loss_ratio{track=outbound}",
            "performance.tracks.*.outbound.loss_ratio",
            "track=outbound",
        ),
        (
            "requests.error_ratio{kind=start}",
            "<= 0.01",
            "requests.error_ratio{kind=start}",
            "performance.requests.by_kind.start.error_ratio",
            "kind=start",
        ),
        (
            "requests.from_due_ms.p99{codec=L16}",
            "< 100",
            "requests.from_due_ms.p99{codec=L16}",
            "performance.requests.by_codec.L16.from_due_ms.p99",
            "codec=L16",
        ),
        (
            "conformance.failures{rule=WS-MEDIA-002}",
            "== 0",
            "conformance.failures{rule=WS-MEDIA-002}",
            "conformance.results.WS-MEDIA-002.failures",
            "rule=WS-MEDIA-002",
        ),
        (
            "accounting.unaccounted",
            "== 0",
            "accounting.unaccounted",
            "accounting.unaccounted",
            "",
        ),
        (
            "harness.saturated",
            "== false",
            "harness.saturated",
            "performance.harness.saturated",
            "",
        ),
    ],
)
def test_keys_compile_to_summary_paths(key, expression, name, path, filter) -> None:
    spec = parse_threshold(key, expression, source="p.toml:3")
    assert (spec.name, spec.path, spec.filter, spec.source) == (
        name,
        path,
        filter,
        "p.toml:3",
    )


def test_the_condition_is_parsed() -> None:
    spec = parse_threshold("setup_ms", "p95 >= 1e3")
    assert (spec.op, spec.limit, spec.expression) == (">=", 1000.0, "p95 >= 1000")


@pytest.mark.parametrize(
    ("key", "expression", "message"),
    [
        ("jiter_ms.p99", "< 5", "'jiter_ms' is not a metric; did you mean jitter_ms"),
        ("jitter_ms", "< 5", "jitter_ms is a distribution and needs an aggregation"),
        ("jitter_ms.p98", "< 5", "'p98' is not an aggregation of jitter_ms"),
        ("loss_ratio.p99", "< 5", "loss_ratio is a single number and has no 'p99'"),
        (
            "jitter_ms.p99{codec=PCMZ}",
            "< 5",
            "'PCMZ' is not a codec; did you mean PCMU?",
        ),
        ("jitter_ms.p99{codec}", "< 5", "'codec' is not a filter; write it like"),
        ("jitter_ms.p99{kind=start}", "< 5", "'kind' is not a filter of this metric"),
        ("setup_ms.p99{track=inbound}", "< 5", "'track' is not a filter"),
        ("accounting.unaccounted{codec=PCMU}", "== 0", "takes no filter: remove {...}"),
        ("requests.errors{kind=stop,codec=PCMU}", "== 0", "for start requests only"),
        ("conformance.failures{rule=NOPE-1}", "== 0", "'NOPE-1' is not a rule"),
        (
            "loss_ratio",
            "< -0.1",
            "'< -0.1' can never hold: loss_ratio ranges from 0 to 1",
        ),
        ("loss_ratio", "> 1", "'> 1' can never hold"),
        ("setup_ms.p99", "< 0", "'< 0' can never hold"),
        ("setup_ms.p99", "< soon", "'soon' is not a finite number"),
        ("setup_ms.p99", "< nan", "'nan' is not a finite number"),
        ("setup_ms.p99", "about 5", "'about 5' is not a condition"),
        ("setup_ms.p99", "p50 < 5", "names an aggregation the key already has"),
        ("Setup", "< 5", "is not a metric name"),
    ],
)
def test_mistakes_say_what_and_how_to_fix(key, expression, message) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_threshold(key, expression)
    assert raised.value.field == key
    assert message in str(raised.value)


def test_every_metric_has_a_doc_and_a_sane_range() -> None:
    for name, metric in METRICS.items():
        assert metric.doc and metric.low <= metric.high, name
