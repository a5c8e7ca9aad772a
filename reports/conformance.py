"""Conformance per rule of :data:`harness.core.rules.RULES`: counts, verdicts, evidence.

Verdicts: ``pass`` (checked, never failed), ``fail`` (an ``error`` rule failed),
``warn`` (a ``warning`` or ``info`` rule failed: reported, never fatal) and
``not-checked``. Rules with several allowed readings (contract §10) list the
readings seen with how many subjects showed each, as information; ``sources``
names who checked it (receiver, scenario, negative, callback), so a rule that
needs the negative suite or the callback sink shows whether they ran. A rule id
that is not in the catalog is reported too, as an ``error`` rule, so a checker
newer than this report cannot fail silently.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, Literal, cast

import pandas as pd

from harness.core.rules import RULES, Rule, Severity
from harness.core.sources import pages_of


__all__ = ["EVIDENCE", "Verdict", "summarise_conformance", "verdict"]

EVIDENCE: Final = 3
"""Evidence rows kept per rule in the summary."""

Verdict = Literal["pass", "fail", "warn", "not-checked"]
Json = dict[str, Any]


def verdict(checks: int, failures: int, severity: Severity) -> Verdict:
    """One rule's verdict from its counts."""
    if checks <= 0 and failures <= 0:
        return "not-checked"
    if failures <= 0:
        return "pass"
    return "fail" if severity == "error" else "warn"


def summarise_conformance(
    rule_checks: pd.DataFrame,
    violations: pd.DataFrame,
    rules: Mapping[str, Rule] = RULES,
) -> Json:
    """Totals and ``results`` per rule id (catalog order, then unknown ids sorted)."""
    checks = rule_checks.assign(
        rule=rule_checks["rule"].astype(str),
        reading=rule_checks["reading"].astype(str),
        failed=rule_checks["failures"] > 0,
    )
    # Plain sums and sizes: named aggregation costs ~15 ms a call, paid once
    # per capacity level.
    by_rule = checks.groupby("rule")
    sums = by_rule[["checks", "failures", "failed"]].sum()
    sizes = by_rule.size()
    counts: dict[str, dict[str, int]] = {
        str(rule_id): {
            "checks": int(n_checks),
            "failures": int(n_failures),
            "subjects": int(n_subjects),
            "failed_subjects": int(n_failed),
        }
        for rule_id, n_checks, n_failures, n_failed, n_subjects in zip(
            sums.index.tolist(),
            sums["checks"].tolist(),
            sums["failures"].tolist(),
            sums["failed"].tolist(),
            sizes.reindex(sums.index).tolist(),
            strict=True,
        )
    }
    readings: dict[str, dict[str, int]] = {}
    seen_readings = checks[checks["reading"] != ""].groupby(["rule", "reading"]).size()
    for key, n in seen_readings.items():
        rule_id, reading = cast(tuple[str, str], key)
        readings.setdefault(rule_id, {})[reading] = int(n)
    sources: dict[str, list[str]] = {
        str(rule_id): sorted({str(s) for s in group})
        for rule_id, group in checks.groupby("rule")["source"]
    }
    evidence = _evidence(violations)
    ids = [*rules, *sorted((set(counts) | set(evidence)) - set(rules))]

    results: dict[str, Json] = {}
    empty = {"checks": 0, "failures": 0, "subjects": 0, "failed_subjects": 0}
    for rule_id in ids:
        rule = rules.get(rule_id)
        count = counts.get(rule_id, empty)
        severity: Severity = rule.severity if rule else "error"
        results[rule_id] = {
            "statement": rule.statement if rule else "(not in the rule catalog)",
            "section": rule.section if rule else "",
            "docs": [
                {"title": title, "url": url}
                for title, url in (pages_of(rule.section) if rule else [])
            ],
            "severity": severity,
            "known": rule is not None,
            **count,
            "verdict": verdict(count["checks"], count["failures"], severity),
            "readings": readings.get(rule_id, {}),
            "sources": sources.get(rule_id, []),
            "evidence": evidence.get(rule_id, []),
        }
    verdicts = [r["verdict"] for r in results.values()]
    return {
        "rules": len(rules),
        "passed": verdicts.count("pass"),
        "failed": verdicts.count("fail"),
        "warnings": verdicts.count("warn"),
        "not_checked": verdicts.count("not-checked"),
        "checks": sum(r["checks"] for r in results.values()),
        "failures": sum(r["failures"] for r in results.values()),
        "results": results,
    }


def _evidence(violations: pd.DataFrame) -> dict[str, list[Json]]:
    """The first :data:`EVIDENCE` violations per rule, earliest first."""
    if not len(violations):
        return {}
    ordered = violations.sort_values("at_ns", kind="stable")
    first = ordered.groupby("rule", sort=True).head(EVIDENCE)
    out: dict[str, list[Json]] = {}
    for row in first.to_dict("records"):
        seq = int(row["seq"])
        out.setdefault(str(row["rule"]), []).append(
            {
                "source": str(row["source"]),
                "subject": str(row["subject"]),
                "seq": None if seq < 0 else seq,
                "expected": str(row["expected"]),
                "actual": str(row["actual"]),
            }
        )
    return out
