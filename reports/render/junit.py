"""``junit.xml``: rules and gates as test cases, for CI test-report widgets.

Two suites: ``conformance`` has one case per rule (``failure`` when an error
rule failed, ``skipped`` when nothing checked it, with the reason as its
message; a warning is a passing case
whose output says so), ``gates`` one case per gate (``skipped`` for no-data),
with the file and line it was declared at (``file``, ``line`` and in the
failure message), as test runners name a test's source.

Each suite's ``timestamp`` is the run's start (UTC, ISO 8601) and its ``time``
how long the run's records span: every case was judged over that whole run,
after it, so a case's own ``time`` is 0 (summing cases, as some CI widgets
do, must not multiply the run's length). What ran (profile, target, version,
commit, ``--tag`` labels) is in each suite's ``properties``.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from typing import Any, Final

from reports.render.common import gate_label, profile_text


__all__ = ["render", "source_location"]

_BUILTIN: Final = re.compile(r"([A-Za-z0-9_-]+) \(built-in\)")
_WHERE: Final = re.compile(r"(.+):([0-9]+)")


def render(summary: Mapping[str, Any]) -> str:
    """The summary as a JUnit XML document."""
    root = ET.Element("testsuites", name="streamload")
    stamp = _stamp(summary)
    conformance = _suite(root, "conformance", summary, stamp)
    _conformance(conformance, summary)
    _gates(_suite(root, "gates", summary, stamp), summary["thresholds"])
    _count(root, root.findall("testsuite"))
    root.attrib.update(stamp)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _stamp(summary: Mapping[str, Any]) -> dict[str, str]:
    """``time`` (the records' span, else the planned duration) and ``timestamp``."""
    span = (summary.get("run") or {}).get("duration_s")
    if not isinstance(span, int | float):
        span = (summary.get("load") or {}).get("duration_s")
    out = {"time": f"{float(span):.3f}" if isinstance(span, int | float) else "0"}
    started = summary.get("started_at")
    if isinstance(started, str) and started:
        out["timestamp"] = started
    return out


def _suite(
    root: ET.Element, name: str, summary: Mapping[str, Any], stamp: Mapping[str, str]
) -> ET.Element:
    """A suite with the run's time, start and what ran as properties."""
    suite = ET.SubElement(root, "testsuite", {"name": name, **stamp})
    props = ET.SubElement(suite, "properties")
    values = {
        "run_id": (summary.get("run") or {}).get("run_id"),
        "profile": profile_text(summary) if summary.get("profile") else None,
        "target": summary.get("target"),
        "started_at": summary.get("started_at"),
        "version": summary.get("version"),
        "git_commit": summary.get("git_commit"),
        **{f"tag.{k}": v for k, v in (summary.get("tags") or {}).items()},
    }
    for key, value in values.items():
        if value is not None:
            ET.SubElement(props, "property", name=key, value=str(value))
    return suite


def source_location(source: str) -> tuple[str, int | None]:
    """``nightly.toml:12`` -> (``nightly.toml``, 12); a built-in names its file
    in the source tree; a source without a line (``--threshold``) keeps none."""
    match = _WHERE.fullmatch(source)
    path, line = (match.group(1), int(match.group(2))) if match else (source, None)
    builtin = _BUILTIN.fullmatch(path)
    if builtin:
        path = f"harness/core/profiles/{builtin.group(1)}.toml"
    return path, line


def _count(element: ET.Element, suites: Sequence[ET.Element]) -> None:
    """Set tests/failures/skipped on ``element`` from the cases under ``suites``."""
    cases = [case for suite in suites for case in suite.iter("testcase")]
    element.set("tests", str(len(cases)))
    element.set("failures", str(sum(c.find("failure") is not None for c in cases)))
    element.set("errors", "0")
    element.set("skipped", str(sum(c.find("skipped") is not None for c in cases)))


def _case(suite: ET.Element, name: str) -> ET.Element:
    return ET.SubElement(
        suite, "testcase", classname=suite.get("name", ""), name=name, time="0"
    )


def _conformance(suite: ET.Element, summary: Mapping[str, Any]) -> None:
    why = {
        str(e["rule"]): e for e in summary["conformance"].get("not_checked_rules", [])
    }
    for rule_id, result in summary["conformance"]["results"].items():
        case = _case(suite, rule_id)
        counts = f"{result['failures']} of {result['checks']} checks failed"
        verdict = result["verdict"]
        if verdict == "fail":
            failure = ET.SubElement(
                case,
                "failure",
                message=f"{rule_id}: {result['statement']}: {counts}",
                type=result["severity"],
            )
            failure.text = _evidence(result["evidence"])
        elif verdict == "not-checked":
            entry = why.get(rule_id)
            skipped = ET.SubElement(
                case,
                "skipped",
                message=str(entry["reason"]) if entry else "not checked in this run",
            )
            if entry and (entry["fix"] != "nothing to fix" or entry["required"]):
                skipped.text = f"fix: {entry['fix']}" + (
                    "\nrequired by the profile: the coverage gate fails"
                    if entry["required"]
                    else ""
                )
        else:
            out = ET.SubElement(case, "system-out")
            out.text = f"{verdict}: {result['statement']} ({counts})"
            if verdict == "warn":
                out.text += "\n" + _evidence(result["evidence"])
    _count(suite, [suite])


def _gates(suite: ET.Element, gates: Sequence[Mapping[str, Any]]) -> None:
    for gate in gates:
        case = _case(suite, gate_label(gate))
        source = str(gate.get("source") or "")
        where = f" ({source})" if source else ""
        if source:
            path, line = source_location(source)
            if path.endswith((".toml", ".json")):  # a file, not --threshold
                case.set("file", path)
                if line is not None:
                    case.set("line", str(line))
        if gate["result"] == "fail":
            failure = ET.SubElement(
                case,
                "failure",
                message=f"{gate_label(gate)}{where}: {gate['message']}",
                type="gate",
            )
            failure.text = gate["message"] + (
                f"\ndeclared at {source}" if source else ""
            )
        elif gate["result"] in ("no-data", "void"):  # void: records incomplete
            ET.SubElement(case, "skipped", message=gate["message"])
        else:
            ET.SubElement(case, "system-out").text = gate["message"] + (
                f" (declared at {source})" if source else ""
            )
    _count(suite, [suite])


def _evidence(rows: Sequence[Mapping[str, Any]]) -> str:
    return "\n".join(
        f"{e['subject']} seq={e['seq'] if e['seq'] is not None else '-'}: "
        f"expected {e['expected']}, got {e['actual']}"
        for e in rows
    )
