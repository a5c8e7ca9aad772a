"""reports.coverage: why a rule went unchecked, and the ``require`` gate."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from hypothesis import given, strategies as st

from harness.core.profiles.profile import DIMENSIONS
from harness.core.rules import NEEDS, RULES
from harness.io.profile_file import load_profile
from reports import coverage
from reports.__main__ import write_reports
from reports.coverage import Facts, coverage_gate, facts_from, group, not_checked
from tests.reports.conftest import build_passing


SMOKE = load_profile("smoke")
MATRIX: Mapping[str, Sequence[str]] = SMOKE.matrix.values


def unchecked(*ids: str) -> dict[str, dict[str, Any]]:
    """Results where ``ids`` are not checked and every other rule passed."""
    return {
        rule: {"verdict": "not-checked" if rule in ids else "pass", "checks": 0}
        for rule in RULES
    }


def reference(**changes: Any) -> Facts:
    """What a clean smoke run against the reference platform knows."""
    base: dict[str, Any] = {
        "matrix": MATRIX,
        "negative_on": True,
        "negative": "ran",
        "producers": {"receiver": 1, "scenario": 1, "negative": 1, "callback": 1},
        "dialects": frozenset({"signalwire"}),
        "streams_received": 20,
        "requests_ok": 20,
        "callbacks_received": 40,
        "callback_sink": True,
        "signing_key": True,
    }
    return Facts(**{**base, **changes})


def by_rule(entries: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {e["rule"]: e for e in entries}


def test_twilio_only_rules_on_a_signalwire_target_are_not_required() -> None:
    entries = not_checked(unchecked("WS-SID-001", "WS-DIALECT-002"), reference(), "all")
    got = by_rule(entries)
    assert got["WS-DIALECT-002"]["reason"] == (
        "applies to the twilio dialect only; the target spoke signalwire"
    )
    assert "top-level streamSid" in got["WS-SID-001"]["reason"]
    assert not any(e["required"] or e["applicable"] for e in entries)
    gate = coverage_gate(entries, "all")
    assert gate is not None and gate["result"] == "pass"
    assert "not applicable to this run: WS-SID-001, WS-DIALECT-002" in gate["message"]


def test_on_a_twilio_target_the_dialect_rule_is_required() -> None:
    entries = not_checked(
        unchecked("WS-DIALECT-002"), reference(dialects=frozenset({"twilio"})), "all"
    )
    assert entries[0]["required"] is True
    assert entries[0]["reason"].startswith("nothing checked it although the run had")


def test_a_skipped_negative_suite_makes_its_rules_required_with_the_fix() -> None:
    ids = [r for r, rule in RULES.items() if "negative" in rule.needs]
    facts = reference(
        negative="skipped",
        negative_why="conference discovery failed: no answer (give --conference-sids)",
        producers={"receiver": 1, "scenario": 1},
    )
    entries = not_checked(unchecked(*ids), facts, "all")
    assert [e["rule"] for e in entries] == ids
    first = entries[0]
    assert first["reason"] == (
        "needs the negative suite, which did not run: conference discovery failed: "
        "no answer (give --conference-sids)"
    )
    assert first["fix"] == "give --conference-sids" and first["required"]
    gate = coverage_gate(entries, "all", "smoke profile, [conformance] require")
    assert gate is not None and gate["result"] == "fail" and gate["value"] == len(ids)
    assert gate["rules"] == ids
    assert gate["message"].startswith(
        f"{len(ids)} required rule(s) not checked: {', '.join(ids)} needs the "
        "negative suite, which did not run"
    )
    assert "(fix: give --conference-sids)" in gate["message"]


def test_a_negative_suite_turned_off_is_not_required() -> None:
    entries = not_checked(
        unchecked("REST-REJECT-001"), reference(negative_on=False), "all"
    )
    assert entries[0]["reason"].endswith("which this run turned off")
    assert entries[0]["fix"].startswith("use --negative on")
    assert entries[0]["required"] is False


def test_a_failed_negative_suite_names_its_exit_code() -> None:
    facts = reference(negative="failed", negative_why="exit 2")
    (entry,) = not_checked(unchecked("REST-REJECT-006"), facts, "all")
    assert entry["reason"] == "needs the negative suite, which failed (exit 2)"
    assert entry["fix"] == "see logs/negative.log" and entry["required"]


def test_callbacks_with_the_matrix_off_and_no_negative_suite_are_not_required() -> None:
    matrix = {**MATRIX, "status_callback": ("off",)}
    facts = reference(
        matrix=matrix, negative_on=False, callbacks_received=0, producers={}
    )
    entries = not_checked(unchecked("CB-001"), facts, "all")
    assert entries[0]["reason"] == (
        "needs status callbacks: the matrix has status_callback=off "
        "and the negative suite is off"
    )
    assert entries[0]["fix"] == "use --status-callback on,off"
    assert entries[0]["required"] is False


def test_callbacks_asked_for_but_the_sink_never_ran_fail_the_gate() -> None:
    facts = reference(
        callbacks_received=0, producers={"receiver": 1, "scenario": 1, "negative": 1}
    )
    entries = not_checked(unchecked("CB-001", "CB-002"), facts, "all")
    assert entries[0]["reason"] == (
        "needs status callbacks: none arrived at the callback sink"
    )
    assert all(e["required"] for e in entries)
    gate = coverage_gate(entries, "all")
    assert gate is not None and gate["result"] == "fail"
    assert "--callback-url" in gate["message"]


def test_callbacks_on_a_remote_target_without_a_sink_name_callback_url() -> None:
    facts = reference(callbacks_received=0, callback_sink=False, remote=True)
    (entry,) = not_checked(unchecked("CB-003"), facts, "all")
    assert entry["fix"] == "give --callback-url" and entry["required"]


def test_signatures_need_a_signing_key_which_only_the_user_has() -> None:
    (entry,) = not_checked(unchecked("CB-004"), reference(signing_key=False), "all")
    assert entry["reason"].startswith("needs the key that signs status callbacks")
    assert entry["fix"].startswith("export SIGNALWIRE_SIGNING_KEY")
    assert entry["required"] is False


def test_the_bearer_token_rule_follows_the_matrix_and_the_negative_suite() -> None:
    matrix = {**MATRIX, "bearer_token": ("off",)}
    (entry,) = not_checked(
        unchecked("WS-HANDSHAKE-001"),
        reference(matrix=matrix, negative="skipped", negative_on=True),
        "all",
    )
    assert entry["reason"] == (
        "needs streams sent with AuthorizationBearerToken: "
        "the matrix has bearer_token=off"
    )
    assert entry["fix"] == "use --bearer-token on,off" and not entry["required"]
    (ran,) = not_checked(unchecked("WS-HANDSHAKE-001"), reference(matrix=matrix), "all")
    assert ran["required"]  # the negative suite's streams carry the token


def test_no_stream_delivered_is_required_and_says_how_many_started() -> None:
    facts = reference(streams_received=0, requests_ok=7)
    (entry,) = not_checked(unchecked("WS-MEDIA-002"), facts, "all")
    assert entry["reason"] == (
        "needs a stream delivered to the receiver: "
        "7 start request(s) answered OK, none arrived"
    )
    assert entry["required"]


def test_require_none_and_a_list_decide_what_is_required() -> None:
    facts = reference(negative="skipped", negative_why="x")
    results = unchecked("REST-REJECT-001", "REST-REJECT-002")
    assert coverage_gate(not_checked(results, facts, "none"), "none") is None
    entries = not_checked(results, facts, ["REST-REJECT-002"])
    assert [e["required"] for e in entries] == [False, True]
    gate = coverage_gate(entries, ["REST-REJECT-002"])
    assert gate is not None and gate["rules"] == ["REST-REJECT-002"]


def test_without_a_profile_matrix_rules_say_so_and_are_not_required() -> None:
    (entry,) = not_checked(unchecked("WS-HANDSHAKE-001"), Facts(matrix=None), "all")
    assert "no profile.json" in entry["reason"] and not entry["required"]


def test_group_keeps_rules_sharing_a_reason_on_one_line() -> None:
    facts = reference(negative="skipped", negative_why="no answer")
    entries = not_checked(
        unchecked("WS-DIALECT-002", "REST-REJECT-001", "REST-REJECT-002"), facts, "all"
    )
    groups = group(entries)
    assert [g[0] for g in groups] == [
        ["WS-DIALECT-002"],
        ["REST-REJECT-001", "REST-REJECT-002"],
    ]
    assert [g[3] for g in groups] == [False, True]


def test_facts_come_from_the_summary_profile_and_run_json() -> None:
    summary = {
        "conformance": {
            "results": {
                "WS-CONNECTED-001": {"readings": {"twilio 1.0.0": 3}},
                "REST-CREATE-003": {"readings": {"signalwire": 1}},
                "CB-002": {"checks": 4},
                "CB-004": {"checks": 0},
            }
        },
        "run": {"producers": {"receiver": 1}},
        "accounting": {"streams_received": 3, "requests_started_ok": 5},
    }
    legacy = {
        "target": "https://127.0.0.1:1/api",
        "events": [
            {
                "what": "negative suite skipped: no conference sid (give --conference-sids)"
            }
        ],
    }
    facts = facts_from(summary, MATRIX, True, legacy)
    assert facts.dialects == {"twilio", "signalwire"}
    assert (facts.negative, facts.negative_why) == (
        "skipped",
        "no conference sid (give --conference-sids)",
    )
    assert (facts.streams_received, facts.requests_ok, facts.callbacks_received) == (
        3,
        5,
        4,
    )
    assert facts.remote and facts.callback_sink is None
    finished = {"events": [{"what": "negative suite finished (exit 3)"}]}
    assert facts_from(summary, None, True, finished).negative == "failed"
    structured = {
        "negative": {"state": "ran", "why": ""},
        "callback_sink": False,
        "signing_key": True,
    }
    facts = facts_from(summary, None, None, structured)
    assert (facts.negative, facts.callback_sink, facts.signing_key) == (
        "ran",
        False,
        True,
    )


_FACTS = st.builds(
    Facts,
    matrix=st.one_of(
        st.none(),
        st.fixed_dictionaries(
            {
                dim: st.lists(
                    st.sampled_from(values[:4]), min_size=1, max_size=3, unique=True
                )
                for dim, values in DIMENSIONS.items()
            }
        ),
    ),
    negative_on=st.one_of(st.none(), st.booleans()),
    negative=st.sampled_from(["ran", "skipped", "failed", "unknown"]),
    negative_why=st.sampled_from(["", "no answer (give --conference-sids)"]),
    producers=st.dictionaries(
        st.sampled_from(["receiver", "scenario", "negative", "callback"]),
        st.integers(1, 3),
    ),
    dialects=st.frozensets(st.sampled_from(["signalwire", "twilio"])),
    streams_received=st.integers(0, 3),
    requests_ok=st.integers(0, 3),
    callbacks_received=st.integers(0, 3),
    callback_sink=st.one_of(st.none(), st.booleans()),
    signing_key=st.one_of(st.none(), st.booleans()),
    remote=st.booleans(),
)


@given(
    facts=_FACTS,
    ids=st.lists(st.sampled_from(list(RULES)), unique=True),
    require=st.one_of(
        st.sampled_from(["all", "none"]),
        st.lists(st.sampled_from(list(RULES)), unique=True),
    ),
)
def test_every_unchecked_rule_gets_a_reason_and_only_required_ones_gate(
    facts: Facts, ids: list[str], require: str | list[str]
) -> None:
    entries = not_checked(unchecked(*ids), facts, require)
    assert [e["rule"] for e in entries] == [r for r in RULES if r in ids]
    wanted = coverage.required_ids(require)
    for e in entries:
        assert e["reason"] and e["fix"] and e["title"] == RULES[e["rule"]].statement
        assert e["required"] == (e["applicable"] and e["rule"] in wanted)
    gate = coverage_gate(entries, require)
    if not wanted:
        assert gate is None
    else:
        assert gate is not None
        assert gate["rules"] == [e["rule"] for e in entries if e["required"]]
        assert (gate["result"] == "fail") == bool(gate["rules"])


def test_every_need_is_described() -> None:
    used = {n for rule in RULES.values() for n in rule.needs}
    assert used <= set(NEEDS)


def test_a_required_producer_that_did_not_run_fails_the_report(
    tmp_path: Path,
) -> None:
    """The negative suite never ran: under require = "all" the run fails, naming the fix."""
    root = build_passing(tmp_path)
    (root / "profile.json").write_text(json.dumps(SMOKE.document()))
    (root / "run.json").write_text(
        json.dumps(
            {
                "target": "reference",
                "negative": {
                    "state": "skipped",
                    "why": "conference discovery failed: no answer "
                    "(give --conference-sids)",
                },
                "callback_sink": True,
                "signing_key": True,
                "events": [],
            }
        )
    )
    verdict, _, code = write_reports(root)
    assert (verdict, code) == ("fail", 1)
    summary = json.loads((root / "summary.json").read_text())
    gate = next(g for g in summary["thresholds"] if g["name"] == "coverage")
    assert gate["result"] == "fail" and "REST-REJECT-001" in gate["rules"]
    assert "(fix: give --conference-sids)" in gate["message"]
    listed = by_rule(summary["conformance"]["not_checked_rules"])
    assert listed["REST-REJECT-001"]["required"] is True
    assert len(listed) == summary["conformance"]["not_checked"]
    markdown = (root / "report.md").read_text()
    # after the gates (the coverage gate fails with them), before the detail
    first_screen = markdown.split("## Gates")[1].split("## Accounting")[0]
    assert "REST-REJECT-001" in first_screen and "**REQUIRED**" in first_screen
    assert "Fix: give --conference-sids." in first_screen
    html = (root / "report.html").read_text()
    gates = html.index("<h2 id=gates>Gates</h2>")
    assert gates < html.index("REST-REJECT-001") < html.index("<h2>Accounting</h2>")
    junit = (root / "junit.xml").read_text()
    assert (
        '<skipped message="needs the negative suite, which did not run: '
        "conference discovery failed: no answer (give --conference-sids)" in junit
    )


def test_behind_a_tls_terminator_the_wss_rule_is_not_applicable() -> None:
    entries = not_checked(
        unchecked("WS-HANDSHAKE-002"), reference(services_tls=False), "all"
    )
    assert entries[0]["applicable"] is False and entries[0]["required"] is False
    assert "--services-tls off" in entries[0]["reason"]
    gate = coverage_gate(entries, "all")
    assert gate is not None and gate["result"] == "pass"
    # receivers holding TLS themselves: an unchecked wss rule is required
    held = not_checked(unchecked("WS-HANDSHAKE-002"), reference(), "all")
    assert held[0]["required"] is True


def test_run_json_says_whether_the_receivers_held_tls() -> None:
    facts = facts_from({}, MATRIX, True, {"services_tls": False})
    assert facts.services_tls is False
    assert facts_from({}, MATRIX, True, {}).services_tls is None
