"""Thresholds on summary metrics, turned into pass/fail gates and an exit code.

A :class:`Threshold` names a metric by its path in the summary, e.g.
``performance.codecs.PCMU.latency_ms.p99``. A ``*`` segment expands over the
keys found there, so ``performance.codecs.*.loss_ratio`` gives one gate per
codec, each with a ``filter`` such as ``codec=PCMU``. A metric that is absent
or null is ``no-data``, which does not fail the run: a run that sent no PCMA
should not fail a PCMA latency gate. A true/false metric counts as 1/0.

Profiles (:mod:`harness.core.profiles.profile`) declare thresholds k6-style; each compiles to
a :class:`Threshold` through :meth:`Threshold.from_spec`, keeping the file and
line it came from so a failed gate names where to change it.
"""

from __future__ import annotations

import dataclasses
import math
import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Final, Literal

from harness.core.exits import EXIT_FAIL, EXIT_PASS
from harness.core.profiles.thresholds import Op


__all__ = [
    "OPS",
    "GateResult",
    "Threshold",
    "conformance_gate",
    "evaluate",
    "exit_code",
    "verdict",
]

GateResult = Literal["pass", "fail", "no-data"]
Json = dict[str, Any]

OPS: Final[dict[Op, Callable[[float, float], bool]]] = {
    "<=": operator.le,
    "<": operator.lt,
    ">=": operator.ge,
    ">": operator.gt,
    "==": operator.eq,
    "!=": operator.ne,
}


@dataclasses.dataclass(frozen=True, slots=True)
class Threshold:
    """``metric op limit`` must hold; ``metric`` is a dotted path, ``*`` allowed."""

    name: str
    metric: str
    op: Op
    limit: float
    filter: str = ""
    """Filters fixed by the metric path, e.g. ``codec=PCMU``; wildcards add theirs."""
    source: str = ""
    """Where it was declared (``nightly.toml:12``), for messages."""

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> Threshold:
        """From a :class:`harness.core.profiles.thresholds.ThresholdSpec` (or its JSON form)."""
        op = str(spec["op"])
        if op not in OPS:
            raise ValueError(f"unknown operator {op!r}")
        return cls(
            name=str(spec["name"]),
            metric=str(spec["path"]),
            op=next(o for o in OPS if o == op),
            limit=float(spec["limit"]),
            filter=str(spec.get("filter") or ""),
            source=str(spec.get("source") or ""),
        )


def evaluate(summary: Mapping[str, Any], thresholds: Iterable[Threshold]) -> list[Json]:
    """One gate per threshold and per key a ``*`` expands to, in threshold order."""
    gates: list[Json] = []
    for threshold in thresholds:
        found = _resolve(summary, threshold.metric.split("."), (), threshold.filter)
        for path, filters, value in found:
            gates.append(_gate(threshold, ".".join(path), filters, value))
    return gates


def conformance_gate(summary: Mapping[str, Any], allow: Iterable[str] = ()) -> Json:
    """One gate over every rule: failed error-severity rules, minus ``allow``.

    The value is how many rules failed; the message names them, so a CI log
    says which contract rule broke without opening the report.
    """
    allowed = set(allow)
    results = summary.get("conformance", {}).get("results", {})
    failed = sorted(
        rule
        for rule, result in results.items()
        if result.get("verdict") == "fail" and rule not in allowed
    )
    excused = sorted(
        rule
        for rule, result in results.items()
        if result.get("verdict") == "fail" and rule in allowed
    )
    note = f"; allowed to fail: {', '.join(excused)}" if excused else ""
    if failed:
        message = f"{len(failed)} rule(s) failed: {', '.join(failed)}{note}"
    else:
        message = f"every checked rule passed{note}"
    return {
        "name": "conformance",
        "metric": "conformance.failed",
        "filter": None,
        "op": "==",
        "limit": 0,
        "value": len(failed),
        "result": "fail" if failed else "pass",
        "message": message,
        "source": "",
        "rules": failed,
    }


def verdict(gates: Sequence[Mapping[str, Any]]) -> Literal["pass", "fail"]:
    """``fail`` if any gate failed; ``no-data`` never fails."""
    return "fail" if any(g["result"] == "fail" for g in gates) else "pass"


def exit_code(gates: Sequence[Mapping[str, Any]]) -> int:
    """0 when every gate passed or had no data, 1 when one failed."""
    return EXIT_FAIL if verdict(gates) == "fail" else EXIT_PASS


def _resolve(
    node: object, segments: list[str], path: tuple[str, ...] = (), filters: str = ""
) -> list[tuple[tuple[str, ...], str, object]]:
    """Walk ``segments`` from ``node``: (concrete path, filter text, value) per match."""
    if not segments:
        return [(path, filters, node)]
    head, rest = segments[0], segments[1:]
    if head != "*":
        child = node.get(head) if isinstance(node, Mapping) else None
        return _resolve(child, rest, (*path, head), filters)
    if not isinstance(node, Mapping) or not node:
        return [((*path, head, *rest), filters, None)]
    label = _label(path, filters)
    found: list[tuple[tuple[str, ...], str, object]] = []
    for key in sorted(node):
        term = f"{filters},{label}={key}".lstrip(",")
        found.extend(_resolve(node[key], rest, (*path, str(key)), term))
    return found


_LABELS: Final = {
    "codecs": "codec",
    "tracks": "codec",
    "by_codec": "codec",
    "by_kind": "kind",
    "results": "rule",
}
"""What the keys under a summary section are, for a gate's filter text."""


def _label(path: tuple[str, ...], filters: str) -> str:
    """Name the keys a ``*`` expands over: ``tracks.*.*`` is a codec, then a track."""
    if len(path) >= 2 and path[-2] == "tracks" and filters:
        return "track"
    return _LABELS.get(path[-1], path[-1]) if path else "key"


def _gate(threshold: Threshold, metric: str, filters: str, value: object) -> Json:
    limit = threshold.limit
    bound = f"{threshold.op} {_fmt(limit)}"
    number = _number(value)
    result: GateResult
    if number is None:
        result = "no-data"
        message = f"{metric}: no data (limit {bound}); not gated"
    elif OPS[threshold.op](number, limit):
        result = "pass"
        message = f"{metric} = {_fmt(number)}, within the limit {bound}"
    else:
        result = "fail"
        message = f"{metric} = {_fmt(number)}, breaks the limit {bound}"
    return {
        "name": threshold.name,
        "metric": metric,
        "filter": filters or None,
        "op": threshold.op,
        "limit": limit,
        "value": number,
        "result": result,
        "message": message,
        "source": threshold.source,
    }


def _number(value: object) -> float | int | None:
    if isinstance(value, bool):
        return int(value)
    if not isinstance(value, int | float):
        return None
    return value if math.isfinite(value) else None


def _fmt(value: float) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)
