"""Thresholds: k6-style conditions on the metrics of ``summary.json``.

A threshold's key names a metric, optionally an aggregation and filters; its
value is a condition::

    "setup_ms.p99" = "< 3000"                     # every codec, one gate each
    "jitter_ms.p99{codec=PCMU}" = "< 5"           # one codec
    "latency_ms{codec=PCMU,track=inbound}" = ["p99 < 5", "max < 50"]
    "requests.error_ratio{kind=start}" = "<= 0.01"
    "conformance.failures{rule=WS-MEDIA-002}" = "== 0"

:func:`parse_threshold` compiles one into a summary path (``*`` where a filter
is left open) that ``reports.gates`` evaluates. Every mistake is caught here,
before a run starts: an unknown metric, aggregation or filter value, or a
condition that no value of the metric could ever meet.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import re
from collections.abc import Mapping
from typing import Any, Final, Literal

from harness.core.codecs import CODEC_NAMES
from harness.core.errors import ConfigError
from harness.core.rules import RULES


__all__ = ["METRICS", "Metric", "Op", "ThresholdSpec", "parse_threshold"]

Json = dict[str, Any]
Op = Literal["<=", "<", ">=", ">", "==", "!="]
_OPS: Final[tuple[Op, ...]] = ("<=", ">=", "==", "!=", "<", ">")


_DIST_AGGS: Final = (
    "p50",
    "p90",
    "p95",
    "p99",
    "p999",
    "max",
    "min",
    "mean",
    "count",
)


@dataclasses.dataclass(frozen=True, slots=True)
class Metric:
    """A gateable value of ``summary.json`` and how to find it."""

    family: Literal["media", "stream", "requests", "accounting", "rule", "plain"]
    path: str
    """Path below the family's root (dotted)."""
    aggs: tuple[str, ...] = ()
    """Aggregations a gate must pick one of; empty for a single number."""
    low: float = 0.0
    high: float = math.inf
    doc: str = ""


def _media(path: str, doc: str, high: float = math.inf, dist: bool = False) -> Metric:
    return Metric("media", path, _DIST_AGGS if dist else (), 0.0, high, doc)


METRICS: Final[dict[str, Metric]] = {
    # per codec (filter codec=, track=)
    "latency_ms": _media("latency_ms", "send log -> receiver, per frame", dist=True),
    "transit_relative_ms": _media(
        "transit_relative_ms", "arrival above the stream's fastest frame", dist=True
    ),
    "jitter_ms": _media("jitter_ms", "RFC 3550 interarrival jitter", dist=True),
    "interarrival_ms": _media(
        "interarrival_ms", "gap between frames of a track", dist=True
    ),
    "loss_ratio": _media("loss_ratio", "frames lost / frames sent", high=1.0),
    "frames": _media("frames", "frames received"),
    "frames_sent": _media("frames_sent", "frames in the platform's send log"),
    "frames_lost": _media("frames_lost", "frames never received"),
    "duplicates": _media("duplicates", "frames received twice"),
    "reordered": _media("reordered", "frames after a higher chunk"),
    "streams": _media("streams", "streams that started at a receiver"),
    "throughput.frames_per_s": _media("throughput.frames_per_s", "frames/s"),
    "throughput.bytes_per_s": _media("throughput.bytes_per_s", "payload bytes/s"),
    "throughput.realtime_factor": _media(
        "throughput.realtime_factor", "media seconds per wall second"
    ),
    # per codec only (filter codec=)
    "setup_ms": Metric(
        "stream", "setup_ms", _DIST_AGGS, doc="start request -> start message"
    ),
    "first_media_ms": Metric(
        "stream", "first_media_ms", _DIST_AGGS, doc="start request -> first media"
    ),
    "stop_ms": Metric("stream", "stop_ms", _DIST_AGGS, doc="stop request -> stop"),
    # REST requests (filter kind=start|stop, codec=)
    "requests.count": Metric("requests", "count", doc="requests made"),
    "requests.errors": Metric("requests", "errors", doc="answers other than 200"),
    "requests.error_ratio": Metric(
        "requests", "error_ratio", high=1.0, doc="errors / requests"
    ),
    "requests.latency_ms": Metric(
        "requests", "latency_ms", _DIST_AGGS, doc="sent -> answered"
    ),
    "requests.from_due_ms": Metric(
        "requests", "from_due_ms", _DIST_AGGS, doc="due -> answered (open model)"
    ),
    # accounting (no filter)
    **{
        f"accounting.{name}": Metric("accounting", name, doc=doc)
        for name, doc in (
            ("requests_started_ok", "start requests answered 200"),
            ("streams_platform", "streams the platform logged"),
            ("streams_received", "streams a receiver saw start"),
            ("streams_stopped", "streams a receiver saw stop"),
            ("frames_sent", "frames in the send log"),
            ("frames_received", "frames received"),
            ("never_arrived", "started, never seen by a receiver"),
            ("without_stop", "seen to start, never to stop"),
            ("unaccounted", "never_arrived + without_stop"),
        )
    },
    # conformance
    "conformance.failed": Metric("plain", "conformance.failed", doc="rules failed"),
    "conformance.passed": Metric("plain", "conformance.passed", doc="rules passed"),
    "conformance.warnings": Metric("plain", "conformance.warnings", doc="warnings"),
    "conformance.failures": Metric(
        "rule", "failures", doc="failed checks of one rule (filter rule=)"
    ),
    "conformance.checks": Metric(
        "rule", "checks", doc="checks of one rule (filter rule=)"
    ),
    # the measuring instrument itself
    "harness.saturated": Metric(
        "plain",
        "performance.harness.saturated",
        high=1.0,
        doc="1 when a receiver or the platform ran too hot to trust the timings",
    ),
}
"""Metric names a threshold may use, with where each lives in ``summary.json``."""

_FILTERS: Final[dict[str, tuple[str, ...]]] = {
    "media": ("codec", "track"),
    "stream": ("codec",),
    "requests": ("kind", "codec"),
    "accounting": (),
    "rule": ("rule",),
    "plain": (),
}
_FILTER_VALUES: Final[dict[str, tuple[str, ...]]] = {
    "codec": tuple(CODEC_NAMES),
    "track": ("inbound", "outbound"),
    "kind": ("start", "stop"),
    "rule": tuple(RULES),
}


@dataclasses.dataclass(frozen=True, slots=True)
class ThresholdSpec:
    """One compiled condition: the summary ``path`` (``*`` allowed) ``op limit``."""

    name: str
    """The profile key plus the aggregation, e.g. ``jitter_ms.p99{codec=PCMU}``."""
    path: str
    op: Op
    limit: float
    filter: str
    """Fixed filters as ``codec=PCMU,track=inbound`` (wildcards add more)."""
    source: str
    """``file:line`` of the declaration, for messages."""
    expression: str
    """The condition as written, e.g. ``p99 < 5``."""

    def as_json(self) -> Json:
        return dataclasses.asdict(self)


_KEY = re.compile(r"^(?P<metric>[a-z_][a-z0-9_.]*)(?:\{(?P<filters>[^{}]*)\})?$")
_EXPR = re.compile(
    r"^\s*(?:(?P<agg>[a-z][a-z0-9]*)\s*)?(?P<op><=|>=|==|!=|<|>)\s*(?P<limit>\S+)\s*$"
)


def parse_threshold(
    key: str, expression: str, *, source: str = "<flag>"
) -> ThresholdSpec:
    """Compile ``"jitter_ms.p99{codec=PCMU}" = "< 5"`` into a :class:`ThresholdSpec`.

    Raises:
        ConfigError: unknown metric, aggregation or filter, or a condition no
            value can meet. The field is the key; the caller adds file and line.
    """
    m = _KEY.match(key.strip())
    if m is None:
        raise ConfigError(
            key,
            "is not a metric name",
            'write it like "jitter_ms.p99" or "jitter_ms.p99{codec=PCMU}"',
        )
    name, agg = _split_agg(m.group("metric"), key)
    metric = METRICS[name]
    filters = _parse_filters(key, metric, m.group("filters"))
    e = _EXPR.match(expression)
    if e is None:
        raise ConfigError(
            key,
            f"{expression!r} is not a condition",
            'write it like "< 5", "<= 0.001" or "p99 < 5"',
        )
    if e.group("agg"):
        if agg:
            raise ConfigError(
                key,
                f"{expression!r} names an aggregation the key already has",
                f'write "{e.group("op")} {e.group("limit")}"',
            )
        agg = e.group("agg")
        _check_agg(key, name, metric, agg)
    if metric.aggs and not agg:
        raise ConfigError(
            key,
            f"{name} is a distribution and needs an aggregation",
            f'write "{name}.p99" or a condition like "p99 {expression.strip()}"',
        )
    op: Op = next(o for o in _OPS if o == e.group("op"))
    limit = _limit(key, e.group("limit"))
    high = math.inf if agg == "count" else metric.high
    if not _satisfiable(op, limit, metric.low, high):
        span = f"{_g(metric.low)} to {_g(high)}"
        raise ConfigError(
            key,
            f"'{op} {_g(limit)}' can never hold: {name} ranges from {span}",
            "pick a limit inside that range",
        )
    path = _path(metric, filters, agg)
    text = ",".join(f"{k}={v}" for k, v in filters.items())
    label = f"{name}.{agg}" if agg else name
    return ThresholdSpec(
        name=f"{label}{{{text}}}" if text else label,
        path=path,
        op=op,
        limit=limit,
        filter=text,
        source=source,
        expression=f"{agg + ' ' if agg and e.group('agg') else ''}{op} {_g(limit)}",
    )


def _split_agg(text: str, key: str) -> tuple[str, str]:
    if text in METRICS:
        return text, ""
    head, _, tail = text.rpartition(".")
    if head in METRICS:
        _check_agg(key, head, METRICS[head], tail)
        return head, tail
    close = difflib.get_close_matches(head or text, list(METRICS), n=3)
    hint = f"did you mean {' or '.join(close)}? " if close else ""
    raise ConfigError(
        key,
        f"{(head or text)!r} is not a metric",
        f"{hint}see 'Metrics' in the README for the list",
    )


def _check_agg(key: str, name: str, metric: Metric, agg: str) -> None:
    if not metric.aggs:
        raise ConfigError(
            key,
            f"{name} is a single number and has no {agg!r}",
            f'write "{name}" alone',
        )
    if agg not in metric.aggs:
        raise ConfigError(
            key,
            f"{agg!r} is not an aggregation of {name}",
            f"use one of {', '.join(metric.aggs)}",
        )


def _parse_filters(key: str, metric: Metric, text: str | None) -> dict[str, str]:
    if text is None:
        return {}
    allowed = _FILTERS[metric.family]
    out: dict[str, str] = {}
    for part in text.split(","):
        name, eq, value = (s.strip() for s in part.partition("="))
        if not eq or not name or not value:
            raise ConfigError(
                key, f"{part.strip()!r} is not a filter", "write it like {codec=PCMU}"
            )
        if name not in allowed:
            fix = (
                f"this metric takes {', '.join(allowed)}"
                if allowed
                else "this metric takes no filter: remove {...}"
            )
            raise ConfigError(key, f"{name!r} is not a filter of this metric", fix)
        if value not in _FILTER_VALUES[name]:
            options = _FILTER_VALUES[name]
            close = difflib.get_close_matches(value, list(options), n=1)
            fix = (
                f"did you mean {close[0]}?"
                if close
                else f"use one of {', '.join(options[:12])}"
            )
            raise ConfigError(key, f"{value!r} is not a {name}", fix)
        if name in out:
            raise ConfigError(key, f"{name} is filtered twice", "keep one")
        out[name] = value
    if out.get("kind") == "stop" and "codec" in out:
        raise ConfigError(
            key,
            "requests are split by codec for start requests only",
            "drop kind=stop or codec=",
        )
    return {k: out[k] for k in allowed if k in out}


def _path(metric: Metric, filters: Mapping[str, str], agg: str) -> str:
    tail = f".{agg}" if agg else ""
    codec = filters.get("codec", "*")
    if metric.family == "media" and "track" in filters:
        return f"performance.tracks.{codec}.{filters['track']}.{metric.path}{tail}"
    if metric.family in ("media", "stream"):
        return f"performance.codecs.{codec}.{metric.path}{tail}"
    if metric.family == "requests":
        if "codec" in filters:
            return (
                f"performance.requests.by_codec.{filters['codec']}.{metric.path}{tail}"
            )
        if "kind" in filters:
            return f"performance.requests.by_kind.{filters['kind']}.{metric.path}{tail}"
        return f"performance.requests.{metric.path}{tail}"
    if metric.family == "accounting":
        return f"accounting.{metric.path}"
    if metric.family == "rule":
        return f"conformance.results.{filters.get('rule', '*')}.{metric.path}"
    return metric.path


def _limit(key: str, text: str) -> float:
    lowered = text.lower()
    if lowered in ("true", "false"):
        return 1.0 if lowered == "true" else 0.0
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise ConfigError(
            key, f"{text!r} is not a finite number", "write a limit like 5 or 0.001"
        )
    return value


def _satisfiable(op: Op, limit: float, low: float, high: float) -> bool:
    """Whether some value in ``[low, high]`` meets ``op limit``."""
    return {
        "<": low < limit,
        "<=": low <= limit,
        ">": high > limit,
        ">=": high >= limit,
        "==": low <= limit <= high,
        "!=": not (low == high == limit),
    }[op]


def _g(value: float) -> str:
    return "inf" if value == math.inf else f"{value:g}"
