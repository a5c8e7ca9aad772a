"""reports.render.markdown: a CI job summary that says what broke."""

from __future__ import annotations

import re

from reports.render.markdown import render
from reports.summary import Report


def test_a_failing_run(failing_report: Report) -> None:
    text = render(failing_report.summary)
    lines = text.splitlines()

    assert lines[0] == "# streamload report: FAIL"
    assert (
        "| FAIL | loss [codec=PCMA] | 0.1 | <= 0.001 | - | performance.codecs.PCMA.loss_ratio |"
        in lines
    )
    assert "## Accounting" in lines
    assert "### WS-MEDIA-003 (fail, error, §5.2, §5.5)" in lines
    assert "### WS-MEDIA-005 (warn, warning, §5.2, §5.5)" in lines
    assert "- WS-START-004: present (1)" in lines
    assert any(line.startswith("| PCMA | 1 | 90 | 100 | 10 % |") for line in lines)


def test_evidence_cannot_break_a_table(failing_report: Report) -> None:
    text = render(failing_report.summary)
    (row,) = [line for line in text.splitlines() if line.startswith("| MZ2 | 7 |")]

    # the pipe is escaped and the newline folded, so the row keeps 4 cells
    assert len(re.split(r"(?<!\\)\|", row)) == 4 + 2
    assert "a b" in row
    assert "<script>" not in text  # inline HTML is shown, not interpreted


def test_a_passing_run(passing_report: Report) -> None:
    text = render(passing_report.summary)

    assert text.startswith("# streamload report: PASS\n")
    assert "FAIL" not in text
    assert "###" not in text  # no failed or warned rules


def test_audio_lateness_and_per_stream_columns(passing_report: Report) -> None:
    text = render(passing_report.summary)
    assert "| lateness p99 ms | audio (SNR p50) |" in text
    assert "Per stream:" in text
    assert "Harness kept up, platform pacing p99 0 ms." in text


def test_unchecked_rules_come_after_the_gates_grouped_by_reason(
    passing_report: Report,
) -> None:
    summary = dict(passing_report.summary)
    reason = "needs the negative suite, which did not run: no answer"
    summary["conformance"] = {
        **summary["conformance"],
        "not_checked_rules": [
            {"rule": r, "reason": reason, "fix": "give --conference-sids",
             "required": True}
            for r in ("REST-REJECT-001", "REST-REJECT-002")
        ] + [
            {"rule": "WS-DIALECT-002", "reason": "applies to the twilio dialect only",
             "fix": "nothing to fix", "required": False}
        ],
    }  # fmt: skip
    text = render(summary)
    assert "· 3 of " in text.splitlines()[2]  # the headline counts them
    first_screen = text.split("## Gates")[1].split("## Accounting")[0].splitlines()
    at = next(i for i, line in enumerate(first_screen) if line.startswith("**3 of "))
    assert first_screen[at].endswith(
        "rules not checked**, 2 of them required (the run fails):"
    )
    assert first_screen[at + 2 :] == [
        "- **REQUIRED** REST-REJECT-001, REST-REJECT-002: " + reason
        + ". Fix: give --conference-sids.",
        "- WS-DIALECT-002: applies to the twilio dialect only.",
        "",
    ]  # fmt: skip
