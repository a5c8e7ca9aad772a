"""The negative suite's data and judge: every reading docs/contract.md allows passes, nothing else."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, strategies as st

from harness.core.api import parse_start, parse_stop
from harness.core.negative import CASES, Answer, Case, build, error_shape, judge
from harness.core.rules import RULES, Checker


def compat(status: int, code: int) -> bytes:
    return json.dumps(
        {"code": code, "message": "m", "more_info": "https://x", "status": status}
    ).encode()


ERRORS = json.dumps({"errors": ["Url: Url is required"]}).encode()
BY_NAME = {c.name: c for c in CASES}


def failed(checker: Checker) -> set[str]:
    return {r for r, c in checker.counts.items() if c.failures}


def test_cases_cover_every_rejection_rule_once_named() -> None:
    assert len(BY_NAME) == len(CASES)
    rejections = {r for r in RULES if r.startswith("REST-REJECT-")}
    assert {c.rule for c in CASES} == rejections
    for case in CASES:
        assert case.accept and all(a.status >= 400 for a in case.accept)


def built(case: Case):
    return build(
        case,
        account_sid="ACC",
        conference_sid="CONF",
        stream_url="wss://r.test/s",
        bad_stream_url="ws://r.test/s",
        live_name="live",
        live_sid="LIVE",
        unknown_sid="UNKNOWN",
    )


def test_build_fills_paths_urls_and_the_live_stream() -> None:
    assert built(BY_NAME["ws-url"]).form == (("Url", "ws://r.test/s"),)
    assert built(BY_NAME["url-whitespace"]).form == (("Url", "wss://r.test/s "),)
    assert built(BY_NAME["name-duplicate"]).form[1] == ("Name", "live")
    assert built(BY_NAME["account-unknown"]).path.startswith("/Accounts/UNKNOWN/")
    assert "/Conferences/UNKNOWN/" in built(BY_NAME["conference-unknown"]).path
    assert built(BY_NAME["stop-unknown"]).path.endswith("/Streams/UNKNOWN")
    assert built(BY_NAME["stop-status"]).path.endswith("/Streams/LIVE")
    request = built(BY_NAME["credentials-bad"])
    assert request.account_sid == "ACC" and not request.good_credentials
    fields = dict(built(BY_NAME["parameter-100"]).form)
    assert fields["Parameter100.Name"] == "p100" and "Parameter101.Name" not in fields


@pytest.mark.parametrize(
    "name",
    [c.name for c in CASES if c.kind == "create" and c.credentials == "good"
     and c.account == "good" and c.conference == "good"
     and c.name != "name-duplicate"],
)  # fmt: skip
def test_the_core_parser_refuses_every_invalid_create(name: str) -> None:
    """The reference platform's own parser agrees with the suite (contract §1.1)."""
    assert isinstance(parse_start(dict(built(BY_NAME[name]).form)), list)


def test_the_core_parser_refuses_a_bad_status() -> None:
    assert parse_stop(dict(built(BY_NAME["stop-status"]).form)) is not None


@pytest.mark.parametrize(
    ("name", "status", "body", "reading"),
    [
        ("ws-url", 400, compat(400, 31922), "400/31922"),
        ("ws-url", 422, ERRORS, "422"),
        ("url-missing", 400, compat(400, 21402), "400/21402"),
        ("url-missing", 422, ERRORS, "422"),
        ("credentials-bad", 401, compat(401, 20003), "401/20003"),
        ("account-unknown", 404, compat(404, 20404), "404/20404"),
        ("account-unknown", 401, compat(401, 20003), "401/20003"),
        ("stop-unknown", 404, compat(404, 20404), "404/20404"),
        ("stop-status", 422, compat(422, 21220), "422/21220"),
    ],
)
def test_every_allowed_reading_passes_and_is_recorded(
    name: str, status: int, body: bytes, reading: str
) -> None:
    checker = Checker(name)
    assert judge(checker, BY_NAME[name], status, body) == reading
    assert failed(checker) == set()
    assert checker.readings == {BY_NAME[name].rule: reading}


@pytest.mark.parametrize(
    ("name", "status", "body", "rules"),
    [
        ("ws-url", 200, b'{"sid": "x"}', {"REST-REJECT-001"}),
        ("ws-url", 400, compat(400, 21402), {"REST-REJECT-001"}),  # not 31922
        ("ws-url", 500, compat(500, 500), {"REST-REJECT-001"}),
        ("ws-url", 400, ERRORS, {"REST-ERROR-001"}),  # 400 must be the coded body
        ("credentials-bad", 403, compat(403, 20003), {"REST-REJECT-006"}),
        ("credentials-bad", 401, compat(401, 20404), {"REST-REJECT-006"}),
        ("credentials-bad", 401, compat(400, 20003), {"REST-ERROR-001"}),
        ("conference-unknown", 404, b"<html>", {"REST-ERROR-001"}),
        ("stop-unknown", 200, b"{}", {"REST-REJECT-010"}),
        (
            "name-duplicate",
            0,
            b"no answer: ConnectionRefusedError",
            {"REST-REJECT-009"},
        ),
    ],
)
def test_answers_no_reading_allows_fail(
    name: str, status: int, body: bytes, rules: set[str]
) -> None:
    checker = Checker(name)
    judge(checker, BY_NAME[name], status, body)
    assert failed(checker) == rules


def test_an_accepted_invalid_request_says_so() -> None:
    checker = Checker("c")
    judge(checker, BY_NAME["ws-url"], 200, b"{}")
    (violation,) = checker.violations
    assert violation.actual == "200 (accepted)"
    assert violation.expected == "400 (code 31922) or 422 (code 31922)"


def test_error_shapes() -> None:
    assert error_shape(422, json.loads(ERRORS)) == "errors"
    assert error_shape(401, json.loads(compat(401, 20003))) == "compat"
    assert error_shape(401, json.loads(compat(404, 20003))) is None
    assert error_shape(422, {"errors": [1]}) is None
    assert (
        error_shape(400, {"code": True, "message": "", "more_info": "", "status": 400})
        is None
    )
    assert error_shape(400, [1]) is None


@given(
    st.sampled_from(CASES),
    st.integers(0, 999),
    st.binary(max_size=200)
    | st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=8),
        lambda inner: (
            st.lists(inner, max_size=3)
            | st.dictionaries(
                st.sampled_from(["code", "message", "more_info", "status", "errors"]),
                inner,
                max_size=5,
            )
        ),
    ).map(lambda doc: json.dumps(doc).encode()),
)
def test_any_answer_is_judged_without_raising(
    case: Case, status: int, body: bytes
) -> None:
    checker = Checker(case.name)
    reading = judge(checker, case, status, body)
    assert reading and checker.counts[case.rule].checks == 1
    if not checker.counts[case.rule].failures:
        assert status in {a.status for a in case.accept}


def test_answer_defaults() -> None:
    assert Answer(422).code is None
