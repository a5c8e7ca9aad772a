"""Metrics over many runs: series, a robust noise band, and the runs that moved.

``streamload trend`` (:mod:`reports.trend`) reads each run's ``summary.json``,
orders the runs by start time and hands the parsed documents here. This module
is the pure part: which values a metric names in each run, the band a run is
judged against and whether it fell outside.

**The rule.** Each run is judged against the runs before it (at most
``window`` of them, those that have the metric): with fewer than
``min_history`` such runs it is not judged (``no-history``). Otherwise the band
is the history's median ± ``half``, where

    half = max(k x 1.4826 x MAD, rel x |median|, floor)

MAD is the median absolute deviation from the median (1.4826 x MAD estimates
the standard deviation of normal data, and one wild run moves neither it nor
the median); ``k = 3.5`` is Iglewicz and Hoaglin's cut-off for the modified
z-score; ``rel`` (default 0.2, as ``streamload compare``'s band) keeps a very
steady history from flagging a few per cent; and ``floor`` is the metric's
smallest change worth a look (:func:`floor_for`: 2 ms for a latency median,
20 ms for a latency tail, 0.001 for a ratio), so a quiet metric's jitter never
flags. A value above the band is ``worse`` when lower is better (latencies,
ratios), ``better`` when higher is (rates), and ``changed`` when the metric has
no direction; the same below, mirrored.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import statistics
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Final, Literal

from harness.core.errors import ConfigError


__all__ = [
    "DEFAULT_METRICS",
    "DERIVED",
    "Band",
    "Point",
    "Rule",
    "at_path",
    "Series",
    "failed_gates",
    "floor_for",
    "judge",
    "noise_band",
    "trend",
]

Better = Literal["lower", "higher"]
Flag = Literal["worse", "better", "changed", "within", "no-history", "no-data"]
Value = float | str | None

FLAGGED: Final[frozenset[str]] = frozenset({"worse", "changed"})
"""Flags that count as a change for ``--fail-on-change`` (an improvement does not)."""

MAD_SCALE: Final = 1.4826
"""1 / Phi^-1(3/4): turns a MAD into a standard-deviation estimate."""

DEFAULT_METRICS: Final[tuple[str, ...]] = (
    "performance.codecs.*.latency_ms.p99",
    "max:performance.codecs.*.jitter_ms.p99",
    "max:performance.codecs.*.loss_ratio",
    "max:performance.codecs.*.setup_ms.p99",
    "starts_per_s",
    "performance.requests.error_ratio",
)
"""Latency p99 per codec; jitter p99, loss ratio and setup p99 of the worst codec;
start requests per second; the REST error ratio. (Every table has each run's
verdict and failed gates beside them; ``verdict`` also works as a metric.)"""


def _starts_per_s(doc: Mapping[str, Any]) -> float | None:
    count = _number(at_path(doc, "performance.requests.by_kind.start.count"))
    seconds = _number(at_path(doc, "run.duration_s"))
    if count is None or not seconds:
        return None
    return round(count / seconds, 3)


DERIVED: Final[Mapping[str, Callable[[Mapping[str, Any]], float | None]]] = {
    "starts_per_s": _starts_per_s,
}
"""Metrics computed from a summary: ``starts_per_s`` = start requests / run seconds."""


@dataclasses.dataclass(frozen=True)
class Rule:
    """How wide the noise band is and how much history it needs."""

    k: float = 3.5
    rel: float = 0.2
    window: int = 10
    min_history: int = 3


@dataclasses.dataclass(frozen=True)
class Band:
    """The history's median and the half-width a value may stray from it."""

    center: float
    half: float
    history: int

    @property
    def low(self) -> float:
        return self.center - self.half

    @property
    def high(self) -> float:
        return self.center + self.half


@dataclasses.dataclass(frozen=True)
class Point:
    """One run's value of one series, the band it was judged by, and the flag."""

    value: Value
    band: Band | None
    flag: Flag


@dataclasses.dataclass(frozen=True)
class Series:
    """One metric over every run (``text``: a value such as the verdict, not judged)."""

    spec: str
    label: str
    better: Better | None
    floor: float
    text: bool
    points: tuple[Point, ...]


def noise_band(history: Sequence[float], rule: Rule, floor: float) -> Band | None:
    """The band around ``history`` (oldest first; the last ``rule.window`` count),
    or ``None`` with fewer than ``rule.min_history`` values."""
    recent = list(history)[-rule.window :] if rule.window > 0 else []
    if len(recent) < max(1, rule.min_history):
        return None
    center = statistics.median(recent)
    mad = statistics.median(abs(x - center) for x in recent)
    half = max(rule.k * MAD_SCALE * mad, rule.rel * abs(center), floor)
    return Band(center=center, half=half, history=len(recent))


def judge(value: float, band: Band, better: Better | None) -> Flag:
    """Where ``value`` lies against ``band``, named by which way is better."""
    if band.low <= value <= band.high:
        return "within"
    if better is None:
        return "changed"
    up = value > band.high
    return "worse" if up == (better == "lower") else "better"


_STATS: Final = frozenset({"p50", "p90", "p95", "p99", "p999", "max", "min", "mean"})
_TAILS: Final = frozenset({"p90", "p95", "p99", "p999", "max"})
_PER_STREAM: Final = ("setup_ms", "first_media_ms", "stop_ms")


def floor_for(spec: str) -> float:
    """The smallest change of a metric worth flagging, from its key's last parts:
    per-stream times (setup, first media, stop) 50 ms at the median, 100 ms in
    the tail; other ``*_ms`` 2 ms and 20 ms; ratios 0.001; anything else 0."""
    parts = spec.rpartition(":")[2].split(".")
    last = parts[-1]
    unit = parts[-2] if last in _STATS and len(parts) > 1 else last
    tail = last in _TAILS
    if unit in _PER_STREAM:
        return 100.0 if tail else 50.0
    if unit.endswith("_ms"):
        return 20.0 if tail else 2.0
    if "ratio" in unit:
        return 0.001
    return 0.0


def better_for(spec: str) -> Better | None:
    """Which way is better: lower for times, ratios, losses and failures,
    higher for rates; ``None`` (no direction) for anything else."""
    key = spec.rpartition(":")[2]
    last = key.split(".")[-1]
    if key.endswith("_per_s") or "per_s" in last:
        return "higher"
    lower = ("_ms", "ratio", "lost", "errors", "failures", "failed", "unaccounted")
    if any(word in part for part in key.split(".") for word in lower):
        return "lower"
    return None


def label_for(spec: str) -> str:
    """A short column name: ``codecs.PCMU.latency_ms.p99`` -> ``PCMU latency_ms.p99``."""
    agg, _, key = spec.rpartition(":")
    key = key.removeprefix("performance.")
    if key.startswith("codecs."):
        key = key.removeprefix("codecs.").replace(".", " ", 1)
        key = key.replace(
            "* ", {"max": "worst", "min": "best"}.get(agg, "*") + " codec "
        )
    elif agg:
        key = f"{agg} {key}"
    return key


def at_path(node: Any, path: str) -> Any:
    """The value at a dotted ``path`` in a summary, or None where any step is missing."""
    for part in path.split("."):
        if not isinstance(node, Mapping):
            return None
        node = node.get(part)
    return node


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def _matches(node: Any, parts: Sequence[str]) -> Iterator[tuple[str, Any]]:
    """Every (concrete path, value) the dotted ``parts`` (``*``: any key) reach."""
    if not parts:
        yield "", node
        return
    if not isinstance(node, Mapping):
        return
    head, rest = parts[0], parts[1:]
    keys = sorted(str(k) for k in node) if head == "*" else [head]
    for key in keys:
        if key in node:
            for path, value in _matches(node[key], rest):
                yield (f"{key}.{path}" if path else key), value


def _value(doc: Mapping[str, Any], spec: str) -> Value:
    """The value ``spec`` names in ``doc``: a number, a text, or ``None``."""
    if spec in DERIVED:
        return DERIVED[spec](doc)
    agg, _, key = spec.rpartition(":")
    found = [v for _, v in _matches(doc, key.split("."))]
    if agg:
        numbers = [n for n in map(_number, found) if n is not None]
        if not numbers:
            return None
        return max(numbers) if agg == "max" else min(numbers)
    if len(found) != 1:
        return None
    value = found[0]
    if isinstance(value, str):
        return value
    return _number(value)


def parse_spec(spec: str) -> str:
    """``spec`` checked: ``[max:|min:]dotted.key`` (``*`` for any key) or a derived name.

    Raises:
        ConfigError: an empty part, an unknown aggregate, or ``*`` at the start.
    """
    fix = (
        "use a dotted key of summary.json, e.g. performance.codecs.PCMU.latency_ms.p99, "
        "'performance.codecs.*.latency_ms.p99' (one series per codec) or "
        "'max:performance.codecs.*.jitter_ms.p99' (the worst codec)"
    )
    agg, colon, key = spec.strip().rpartition(":")
    if colon and agg not in ("max", "min"):
        raise ConfigError(f"--metric {spec}", f"'{agg}:' is not an aggregate", fix)
    parts = key.split(".")
    if not key or any(not p for p in parts):
        raise ConfigError(f"--metric {spec}", "has an empty part", fix)
    if agg and "*" not in parts:
        raise ConfigError(
            f"--metric {spec}", f"'{agg}:' needs a '*' in the key to range over", fix
        )
    return spec.strip()


def _expand(spec: str, docs: Sequence[Mapping[str, Any]]) -> list[str]:
    """A spec with ``*`` and no aggregate becomes one concrete spec per key found."""
    if ":" in spec or "*" not in spec or spec in DERIVED:
        return [spec]
    paths = {p for doc in docs for p, _ in _matches(doc, spec.split("."))}
    return sorted(paths)


def _keys(node: Any, prefix: str = "", depth: int = 0) -> Iterator[str]:
    """Dotted keys of scalar leaves, for a 'did you mean' (depth and width bounded)."""
    if isinstance(node, Mapping) and depth < 8:
        for key in list(node)[:200]:
            yield from _keys(node[key], f"{prefix}{key}.", depth + 1)
    elif not isinstance(node, Mapping | list) and prefix:
        yield prefix[:-1]


def _unknown(spec: str, docs: Sequence[Mapping[str, Any]]) -> ConfigError:
    key = spec.rpartition(":")[2]
    known = sorted({k for doc in docs[-3:] for k in _keys(doc)} | set(DERIVED))
    close = difflib.get_close_matches(key, known, n=3, cutoff=0.6)
    hint = f"did you mean {', '.join(close)}? " if close else ""
    return ConfigError(
        f"--metric {spec}",
        f"is in none of the {len(docs)} runs' summary.json",
        f"{hint}use a dotted key of summary.json "
        "(e.g. performance.codecs.PCMU.latency_ms.p99) or starts_per_s",
    )


def _series(spec: str, values: Sequence[Value], rule: Rule) -> Series:
    floor, better = floor_for(spec), better_for(spec)
    text = any(isinstance(v, str) for v in values)
    points: list[Point] = []
    history: list[float] = []
    for value in values:
        if text or value is None or isinstance(value, str):
            points.append(Point(value, None, "no-data" if value is None else "within"))
            continue
        band = noise_band(history, rule, floor)
        flag: Flag = "no-history" if band is None else judge(value, band, better)
        points.append(Point(value, band, flag))
        history.append(value)
    return Series(spec, label_for(spec), better, floor, text, tuple(points))


def trend(
    docs: Sequence[Mapping[str, Any]],
    specs: Sequence[str],
    rule: Rule = Rule(),
    *,
    missing: list[str] | None = None,
) -> list[Series]:
    """Every metric of ``specs`` over ``docs`` (oldest first), each run judged.

    A metric no run has is an error, unless ``missing`` is given: then it is
    appended there and left out (the default set, where short runs may lack one).

    Raises:
        ConfigError: a spec is malformed or (without ``missing``) names a metric
            no run has.
    """
    out: list[Series] = []
    for raw in specs:
        spec = parse_spec(raw)
        found = False
        for one in _expand(spec, docs):
            values = [_value(doc, one) for doc in docs]
            if all(v is None for v in values):
                continue
            found = True
            out.append(_series(one, values, rule))
        if found:
            continue
        if missing is None:
            raise _unknown(spec, docs)
        missing.append(spec)
    return out


def failed_gates(doc: Mapping[str, Any]) -> list[str]:
    """The names of the gates a run failed (empty for a summary without gates)."""
    gates = doc.get("thresholds")
    if not isinstance(gates, list):
        return []
    return [
        str(g.get("name"))
        for g in gates
        if isinstance(g, Mapping) and g.get("result") == "fail"
    ]
