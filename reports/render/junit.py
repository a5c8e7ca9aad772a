"""``junit.xml``: rules and gates as test cases, for CI test-report widgets.

Two suites: ``conformance`` has one case per rule (``failure`` when an error
rule failed, ``skipped`` when nothing checked it, with the reason as its
message; a warning is a passing case
whose output says so), ``gates`` one case per gate (``skipped`` for no-data).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from typing import Any

from reports.render.common import gate_label


__all__ = ["render"]


def render(summary: Mapping[str, Any]) -> str:
    """The summary as a JUnit XML document."""
    root = ET.Element("testsuites", name="streamload")
    _conformance(ET.SubElement(root, "testsuite", name="conformance"), summary)
    _gates(ET.SubElement(root, "testsuite", name="gates"), summary["thresholds"])
    _count(root, root.findall("testsuite"))
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


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
        if gate["result"] == "fail":
            failure = ET.SubElement(
                case, "failure", message=gate["message"], type="gate"
            )
            failure.text = gate["message"]
        elif gate["result"] in ("no-data", "void"):  # void: records incomplete
            ET.SubElement(case, "skipped", message=gate["message"])
        else:
            ET.SubElement(case, "system-out").text = gate["message"]
    _count(suite, [suite])


def _evidence(rows: Sequence[Mapping[str, Any]]) -> str:
    return "\n".join(
        f"{e['subject']} seq={e['seq'] if e['seq'] is not None else '-'}: "
        f"expected {e['expected']}, got {e['actual']}"
        for e in rows
    )
