"""Why each rule a run could not check went unchecked, and the coverage gate.

A rule nobody checked is ``not-checked``, never passed; this module says why,
from what the run did: what the rule needs (:attr:`harness.core.rules.Rule.needs`),
the profile's request matrix (``profile.json``), what ``run.json`` recorded
(the negative suite skipped or failed, a callback sink or signing key absent)
and which producers wrote records. Each unmet need says whether the run's
matrix and dialect *could* have met it: a rule that needs the twilio dialect on
a signalwire target, or callbacks with ``status_callback = off``, stays
``not checked`` and is not required; one the run could have checked fails the
``coverage`` gate when the profile's ``[conformance] require`` names it.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

from harness.core.rules import NEEDS, RULES, Need, Rule


__all__ = [
    "Facts",
    "Unmet",
    "coverage_gate",
    "facts_from",
    "group",
    "not_checked",
    "required_ids",
]

Json = dict[str, Any]
Require = str | Sequence[str]
"""``"all"``, ``"none"`` or rule ids, as in ``[conformance] require``."""


@dataclasses.dataclass(frozen=True, slots=True)
class Facts:
    """What a run did, as far as coverage is concerned."""

    matrix: Mapping[str, Sequence[str]] | None = None
    """The profile's request matrix; ``None``: the run left no ``profile.json``."""
    negative_on: bool | None = None
    """The profile's ``[conformance] negative``; ``None``: unknown."""
    negative: str = "unknown"
    """``ran``, ``skipped``, ``failed`` or ``unknown`` (from ``run.json``)."""
    negative_why: str = ""
    """Why it was skipped, or how it failed."""
    producers: Mapping[str, int] = dataclasses.field(default_factory=dict)
    dialects: frozenset[str] = frozenset()
    """Dialects the target showed (``connected.version``, the create answers)."""
    streams_received: int = 0
    requests_ok: int = 0
    callbacks_received: int = 0
    """Checks of the busiest ``CB-`` rule: every callback that arrived is checked."""
    callback_sink: bool | None = None
    """A callback URL the target could reach was given to the streams."""
    signing_key: bool | None = None
    """A key to check callback signatures with was configured."""
    remote: bool = False
    """A real target (``--target``) rather than the embedded reference platform."""
    services_tls: bool | None = None
    """The receivers held TLS themselves; ``False``: behind a TLS terminator."""


@dataclasses.dataclass(frozen=True, slots=True)
class Unmet:
    """One need a run did not meet: why, the fix, and whether it could have."""

    reason: str
    fix: str
    applicable: bool
    """The run's matrix and dialect could have met it (so it may be required)."""


_NEGATIVE_EVENT: Final = re.compile(
    r"negative suite (skipped: (?P<why>.*)|finished \(exit (?P<code>-?\d+)\))"
)


def facts_from(
    summary: Mapping[str, Any],
    matrix: Mapping[str, Sequence[str]] | None,
    negative_on: bool | None,
    run_json: Mapping[str, Any] | None,
) -> Facts:
    """The facts of a run from its summary, profile and ``run.json``."""
    results = summary.get("conformance", {}).get("results", {})
    dialects: set[str] = set()
    for rule in ("WS-CONNECTED-001", "REST-CREATE-003", "WS-DIALECT-001"):
        for reading in results.get(rule, {}).get("readings", {}):
            word = str(reading).split(" ")[0].lower()
            if word in ("signalwire", "twilio"):
                dialects.add(word)
    producers = dict(summary.get("run", {}).get("producers", {}))
    accounting = summary.get("accounting", {})
    doc = run_json or {}
    negative, why = _negative_state(doc, producers)
    if negative == "off" and negative_on is None:
        negative_on = False
    return Facts(
        matrix=matrix,
        negative_on=negative_on,
        negative=negative,
        negative_why=why,
        producers=producers,
        dialects=frozenset(dialects),
        streams_received=int(accounting.get("streams_received") or 0),
        requests_ok=int(accounting.get("requests_started_ok") or 0),
        callbacks_received=max(
            (
                int(r.get("checks") or 0)
                for k, r in results.items()
                if k.startswith("CB-")
            ),
            default=0,
        ),
        callback_sink=_bool(doc.get("callback_sink")),
        signing_key=_bool(doc.get("signing_key")),
        remote=str(doc.get("target", "reference")) != "reference",
        services_tls=_bool(doc.get("services_tls")),
    )


def _bool(value: object) -> bool | None:
    return value if isinstance(value, bool) else None


def _negative_state(
    doc: Mapping[str, Any], producers: Mapping[str, int]
) -> tuple[str, str]:
    """``(state, why)`` of the negative suite from ``run.json`` (its key, else events)."""
    recorded = doc.get("negative")
    if isinstance(recorded, Mapping) and recorded.get("state"):
        state, why = str(recorded["state"]), str(recorded.get("why") or "")
        if state == "started":  # stopped with the run before it finished
            return (
                ("ran", why)
                if producers.get("negative")
                else (
                    "failed",
                    "it did not finish before the run ended",
                )
            )
        if state in ("ran", "skipped", "failed", "off"):
            return state, why
        return "unknown", why
    state, why = "unknown", ""
    for event in doc.get("events", []):
        m = _NEGATIVE_EVENT.search(str(event.get("what", "")))
        if m is None:
            continue
        if m.group("why") is not None:
            state, why = "skipped", m.group("why")
        else:
            code = int(m.group("code"))
            state = "ran" if code in (0, 1) else "failed"
            why = "" if state == "ran" else f"exit {code}"
    if state == "unknown" and producers.get("negative"):
        state = "ran"
    return state, why


def _values(facts: Facts, dimension: str) -> Sequence[str] | None:
    return None if facts.matrix is None else facts.matrix.get(dimension, ())


_NO_PROFILE: Final = "the run left no profile.json to tell what its matrix asked for"


def _unmet(need: Need, facts: Facts) -> Unmet | None:
    """Why ``need`` was not met in this run, or ``None`` when it was."""
    negative_ran = facts.negative == "ran"
    if need == "media":
        if facts.streams_received > 0:
            return None
        started = (
            f"{facts.requests_ok} start request(s) answered OK, "
            if facts.requests_ok
            else ""
        )
        return Unmet(
            f"needs {NEEDS[need]}: {started}none arrived",
            "check that the target reaches the receiver's URL (--receiver-url) "
            "and see logs/receiver-0.log",
            True,
        )
    if need == "api":
        if facts.requests_ok > 0 or negative_ran:
            return None
        return Unmet(
            f"needs {NEEDS[need]}: none was (see the Requests section)",
            "check the target URL and credentials; see logs/locust.log",
            True,
        )
    if need == "negative":
        return _negative(facts)
    if need == "callbacks":
        return _callbacks(facts)
    if need == "receiver_tls":
        if facts.services_tls is not False:
            return None
        return Unmet(
            "applies where the receivers hold TLS: this run's sat behind a TLS "
            "terminator (--services-tls off), which holds it for them",
            "check that the terminator serves wss:// only; a run with "
            "--services-tls on checks it here",
            False,
        )
    if need == "signing_key":
        if facts.signing_key:
            return None
        return Unmet(
            f"needs {NEEDS[need]} to check signatures: none was configured",
            "export SIGNALWIRE_SIGNING_KEY (the key the platform signs with)",
            False,
        )
    if need in ("bearer_token", "bidirectional", "stop_by_name"):
        return _matrix(need, facts)
    if need in ("stream_sid", "twilio"):
        return _dialect(need, facts)
    # call_stream: the load and the negative suite stream from conferences
    return Unmet(
        f"needs {NEEDS[need]}: this run streams from conferences only",
        "nothing to fix",
        False,
    )


def _negative(facts: Facts) -> Unmet | None:
    """The negative suite: turned off, skipped, failed, silent, or run."""
    need: Need = "negative"
    if facts.negative_on is False:
        return Unmet(
            f"needs {NEEDS[need]}, which this run turned off",
            "use --negative on (or [conformance] negative = true)",
            False,
        )
    if facts.negative == "ran":
        return None
    if facts.negative == "skipped":
        return Unmet(
            f"needs the negative suite, which did not run: {facts.negative_why}",
            _fix_from(facts.negative_why) or "see run.json",
            True,
        )
    if facts.negative == "failed":
        return Unmet(
            f"needs the negative suite, which failed ({facts.negative_why})",
            "see logs/negative.log",
            True,
        )
    return Unmet(
        "needs the negative suite, which left no records",
        "see logs/negative.log and run.json",
        True,
    )


def _matrix(need: Need, facts: Facts) -> Unmet | None:
    """Needs a value in the profile's matrix (or the negative suite, which sends it)."""
    negative_ran = facts.negative == "ran"
    if need == "bearer_token":
        values = _values(facts, "bearer_token")
        if (values is not None and "on" in values) or negative_ran:
            return None
        return Unmet(
            f"needs {NEEDS[need]}: "
            + (_NO_PROFILE if values is None else "the matrix has bearer_token=off"),
            "use --bearer-token on,off",
            False,
        )
    if need == "bidirectional":
        values = _values(facts, "real_time")
        if values is not None and "true" in values:
            return None
        return Unmet(
            f"needs {NEEDS[need]}: "
            + (
                _NO_PROFILE
                if values is None
                else f"the matrix has real_time={','.join(values)}"
            ),
            "use --real-time omit,true,false",
            False,
        )
    if need == "stop_by_name":
        values = _values(facts, "stop_by")
        if (values is not None and "name" in values) or negative_ran:
            return None
        return Unmet(
            f"needs {NEEDS[need]}: "
            + (_NO_PROFILE if values is None else "the matrix has stop_by=sid"),
            "use --stop-by sid,name",
            False,
        )
    return None


def _dialect(need: Need, facts: Facts) -> Unmet | None:
    """Rules of the twilio dialect only: met when a stream showed it."""
    if need == "stream_sid":
        if "twilio" in facts.dialects:
            return None
        seen = (
            f"this {'/'.join(sorted(facts.dialects))}-dialect target sent none "
            "(its docs allow leaving it out)"
            if facts.dialects
            else "no stream showed the target's dialect"
        )
        return Unmet(f"applies to {NEEDS[need]}: {seen}", "nothing to fix", False)
    if "twilio" in facts.dialects:  # need == "twilio"
        return None
    seen = (
        f"the target spoke {'/'.join(sorted(facts.dialects))}"
        if facts.dialects
        else "no stream showed the target's dialect"
    )
    return Unmet(f"applies to the twilio dialect only; {seen}", "nothing to fix", False)


def _callbacks(facts: Facts) -> Unmet | None:
    """Callbacks come from the load (matrix ``status_callback`` on) or the negative suite."""
    if facts.callbacks_received > 0:
        return None
    values = _values(facts, "status_callback")
    from_load = values is not None and "on" in values
    from_negative = facts.negative_on is not False and facts.callback_sink is not False
    if not from_load and not from_negative:
        why = _NO_PROFILE if values is None else "the matrix has status_callback=off"
        if facts.negative_on is False:
            why += " and the negative suite is off"
        else:
            why += (
                " and no callback sink was reachable for the negative suite's streams"
            )
        fix = "use --status-callback on,off" + (
            " with --callback-url" if facts.remote else ""
        )
        return Unmet(f"needs status callbacks: {why}", fix, False)
    if facts.callback_sink is False:
        return Unmet(
            "needs status callbacks: no callback sink the target could reach",
            "give --callback-url",
            True,
        )
    if not from_load and facts.negative != "ran":
        return _skip_negative(facts)
    return Unmet(
        "needs status callbacks: none arrived at the callback sink",
        "check that the target reaches the callback URL (--callback-url); "
        "see logs/callbacks.log",
        True,
    )


def _skip_negative(facts: Facts) -> Unmet:
    """Callbacks were to come from the negative suite only, which did not run."""
    unmet = _unmet("negative", facts)
    reason = unmet.reason if unmet is not None else "the negative suite sent none"
    return Unmet(
        "needs status callbacks, which only the negative suite asks for here; "
        + reason,
        unmet.fix if unmet is not None else "see logs/negative.log",
        True,
    )


def _fix_from(why: str) -> str:
    """The fix a skip message carries after ``(give ...)`` or ``; ...``."""
    m = re.search(r"\((give [^)]*)\)", why)
    if m:
        return m.group(1)
    _, sep, rest = why.partition("; ")
    return rest if sep else ""


_LEFTOVER: Final[dict[str, str]] = {
    "REST-REJECT-009": "the negative suite skips it when its live anchor stream "
    "was not created (see REST-CREATE-001)",
    "REST-REJECT-011": "the negative suite skips it when its live anchor stream "
    "was not created (see REST-CREATE-001)",
}
"""Why a rule whose needs were all met can still go unchecked."""


def _entry(rule: Rule, facts: Facts, required: bool) -> Json:
    unmet = [u for u in (_unmet(n, facts) for n in rule.needs) if u is not None]
    unmet.sort(key=lambda u: u.applicable)  # the reason it cannot apply comes first
    if unmet:
        applicable = all(u.applicable for u in unmet)
        reason = "; ".join(u.reason for u in unmet)
        fix = next((u.fix for u in unmet if u.fix != "nothing to fix"), unmet[0].fix)
    else:
        applicable = True
        had = ", ".join(NEEDS[n] for n in rule.needs) or "a run"
        reason = _LEFTOVER.get(
            rule.id, f"nothing checked it although the run had {had}"
        )
        fix = "see the logs/ of the run for what went wrong"
    return {
        "rule": rule.id,
        "title": rule.statement,
        "needs": list(rule.needs),
        "reason": reason,
        "fix": fix,
        "applicable": applicable,
        "required": required and applicable,
    }


def required_ids(require: Require, rules: Iterable[str] = RULES) -> frozenset[str]:
    """The rule ids ``require`` names."""
    if isinstance(require, str):
        return frozenset(rules) if require == "all" else frozenset()
    return frozenset(require)


def not_checked(
    results: Mapping[str, Mapping[str, Any]],
    facts: Facts,
    require: Require = "none",
    rules: Mapping[str, Rule] = RULES,
) -> list[Json]:
    """One entry per ``not-checked`` rule of the catalog, in catalog order."""
    wanted = required_ids(require, rules)
    return [
        _entry(rules[rule_id], facts, rule_id in wanted)
        for rule_id, result in results.items()
        if result.get("verdict") == "not-checked" and rule_id in rules
    ]


def coverage_gate(
    entries: Sequence[Mapping[str, Any]], require: Require, source: str = ""
) -> Json | None:
    """The gate ``[conformance] require`` asks for; ``None`` for ``"none"``."""
    if not required_ids(require):
        return None
    missing = [e for e in entries if e["required"]]
    moot = [e["rule"] for e in entries if not e["applicable"]]
    if missing:
        message = f"{len(missing)} required rule(s) not checked: " + "; ".join(
            f"{', '.join(rules)} {reason} (fix: {fix})"
            for rules, reason, fix, _ in group(missing)
        )
    else:
        message = "every required rule the run could exercise was checked"
    if moot:
        message += f"; not applicable to this run: {', '.join(moot)}"
    return {
        "name": "coverage",
        "metric": "conformance.not_checked_rules",
        "filter": None,
        "op": "==",
        "limit": 0,
        "value": len(missing),
        "result": "fail" if missing else "pass",
        "message": message,
        "source": source,
        "rules": [e["rule"] for e in missing],
    }


def group(
    entries: Iterable[Mapping[str, Any]],
) -> list[tuple[list[str], str, str, bool]]:
    """Entries sharing a reason, fix and requiredness, as ``(rules, reason, fix, required)``.

    The report's first screen lists every unchecked rule; grouping keeps
    fifteen rules that all need the negative suite to one line.
    """
    out: list[tuple[list[str], str, str, bool]] = []
    index: dict[tuple[str, str, bool], int] = {}
    for e in entries:
        key = (str(e["reason"]), str(e["fix"]), bool(e["required"]))
        if key in index:
            out[index[key]][0].append(str(e["rule"]))
        else:
            index[key] = len(out)
            out.append(([str(e["rule"])], *key))
    return out
