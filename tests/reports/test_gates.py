"""reports.gates: thresholds over summary paths, wildcards, no-data."""

from __future__ import annotations

from typing import Any

import pytest

from harness.core.profiles.thresholds import parse_threshold
from reports.gates import (
    Threshold,
    conformance_gate,
    evaluate,
    exit_code,
    verdict,
)
from tests.reports.helpers import DEFAULT_THRESHOLDS


def summary(**codecs: dict[str, Any]) -> dict[str, Any]:
    return {
        "conformance": {"failed": 0},
        "accounting": {"unaccounted": 0, "requests_started_ok": 1},
        "performance": {"codecs": codecs, "requests": {"error_ratio": 0.0}},
    }


def test_a_wildcard_gives_one_gate_per_codec_with_a_filter() -> None:
    data = summary(
        PCMU={"latency_ms": {"p99": 12.5}}, L16={"latency_ms": {"p99": 61.0}}
    )
    gates = evaluate(
        data, [Threshold("latency", "performance.codecs.*.latency_ms.p99", "<=", 50)]
    )

    assert gates == [
        {
            "name": "latency",
            "metric": "performance.codecs.L16.latency_ms.p99",
            "filter": "codec=L16",
            "op": "<=",
            "limit": 50,
            "value": 61.0,
            "result": "fail",
            "message": "performance.codecs.L16.latency_ms.p99 = 61, breaks the limit <= 50",
            "source": "",
        },
        {
            "name": "latency",
            "metric": "performance.codecs.PCMU.latency_ms.p99",
            "filter": "codec=PCMU",
            "op": "<=",
            "limit": 50,
            "value": 12.5,
            "result": "pass",
            "message": "performance.codecs.PCMU.latency_ms.p99 = 12.5, within the limit <= 50",
            "source": "",
        },
    ]
    assert verdict(gates) == "fail"
    assert exit_code(gates) == 1


def test_null_absent_and_unmatched_metrics_are_no_data_and_do_not_fail() -> None:
    data = summary(PCMU={"latency_ms": {"p99": None}})
    gates = evaluate(
        data,
        [
            Threshold("latency", "performance.codecs.PCMU.latency_ms.p99", "<=", 50),
            Threshold("missing", "performance.nothing.here", "<=", 1),
            Threshold("none", "performance.tracks.*.loss_ratio", "<=", 0.001),
        ],
    )

    assert [g["result"] for g in gates] == ["no-data"] * 3
    assert gates[0]["message"] == (
        "performance.codecs.PCMU.latency_ms.p99: no data (limit <= 50); not gated"
    )
    assert gates[2]["metric"] == "performance.tracks.*.loss_ratio"
    assert gates[2]["filter"] is None
    assert verdict(gates) == "pass"
    assert exit_code(gates) == 0


@pytest.mark.parametrize(
    ("op", "value", "result"),
    [
        ("<=", 1, "pass"),
        ("<=", 2, "fail"),
        ("<", 1, "fail"),
        (">=", 1, "pass"),
        (">", 1, "fail"),
        ("==", 1, "pass"),
        ("!=", 1, "fail"),
    ],
)
def test_operators(op: Any, value: float, result: str) -> None:
    (gate,) = evaluate({"x": value}, [Threshold("x", "x", op, 1)])
    assert gate["result"] == result


def test_booleans_count_as_one_and_zero_strings_are_not_numbers() -> None:
    gates = evaluate(
        {"a": True, "b": "3", "c": False},
        [
            Threshold("a", "a", "==", 0),
            Threshold("b", "b", "==", 3),
            Threshold("c", "c", "==", 0),
        ],
    )
    assert [(g["result"], g["value"]) for g in gates] == [
        ("fail", 1),
        ("no-data", None),
        ("pass", 0),
    ]


def test_nested_wildcards_join_their_filters() -> None:
    data = {"performance": {"tracks": {"PCMU": {"inbound": {"loss_ratio": 0.5}}}}}
    (gate,) = evaluate(
        data, [Threshold("loss", "performance.tracks.*.*.loss_ratio", "<=", 0.1)]
    )
    assert gate["filter"] == "codec=PCMU,track=inbound"
    assert gate["metric"] == "performance.tracks.PCMU.inbound.loss_ratio"


def test_the_defaults() -> None:
    data = summary(
        PCMU={
            "loss_ratio": 0.0005,
            "latency_ms": {"p99": 3.0},
            "setup_ms": {"p99": 3500.0},
        }
    )
    gates = evaluate(data, DEFAULT_THRESHOLDS)

    assert [(g["name"], g["result"]) for g in gates] == [
        ("activity", "pass"),
        ("conformance", "pass"),
        ("loss", "pass"),
        ("latency", "pass"),
        ("setup", "fail"),
        ("accounting", "pass"),
        ("request-errors", "pass"),
    ]
    assert [t.metric for t in DEFAULT_THRESHOLDS][
        2
    ] == "performance.codecs.*.loss_ratio"
    assert gates[4]["message"] == (
        "performance.codecs.PCMU.setup_ms.p99 = 3500, breaks the limit <= 3000"
    )


def test_a_profile_threshold_keeps_its_filter_and_source() -> None:
    spec = parse_threshold(
        "jitter_ms.p99{track=inbound}", "< 5", source="nightly.toml:12"
    )
    threshold = Threshold.from_spec(spec.as_json())
    data = {
        "performance": {
            "tracks": {
                "PCMU": {"inbound": {"jitter_ms": {"p99": 7.0}}},
                "PCMA": {"inbound": {"jitter_ms": {"p99": 1.0}}},
            }
        }
    }
    gates = evaluate(data, [threshold])
    assert [(g["filter"], g["result"], g["source"]) for g in gates] == [
        ("track=inbound,codec=PCMA", "pass", "nightly.toml:12"),
        ("track=inbound,codec=PCMU", "fail", "nightly.toml:12"),
    ]
    assert gates[1]["name"] == "jitter_ms.p99{track=inbound}"


def test_a_rule_wildcard_names_each_rule() -> None:
    spec = parse_threshold("conformance.failures", "== 0")
    data = {"conformance": {"results": {"WS-SEQ-001": {"failures": 2}}}}
    (gate,) = evaluate(data, [Threshold.from_spec(spec.as_json())])
    assert gate["filter"] == "rule=WS-SEQ-001" and gate["result"] == "fail"


def test_the_conformance_gate_names_failed_rules_and_honours_allow() -> None:
    data = {
        "conformance": {
            "results": {
                "WS-SEQ-001": {"verdict": "fail"},
                "WS-MARK-001": {"verdict": "fail"},
                "WS-START-001": {"verdict": "warn"},
                "WS-STOP-001": {"verdict": "pass"},
            }
        }
    }
    gate = conformance_gate(data, allow=["WS-MARK-001"])
    assert (gate["result"], gate["value"], gate["rules"]) == ("fail", 1, ["WS-SEQ-001"])
    assert gate["message"] == (
        "1 rule(s) failed: WS-SEQ-001; allowed to fail: WS-MARK-001"
    )
    passing = conformance_gate(data, allow=["WS-MARK-001", "WS-SEQ-001"])
    assert passing["result"] == "pass" and passing["value"] == 0
