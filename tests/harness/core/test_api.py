"""REST request parsing and response checks (contract §1-2)."""

from __future__ import annotations

import json
import uuid

import pytest
from hypothesis import given, strategies as st

from harness.core.api import (
    FieldError,
    StartStreamRequest,
    check_stream_response,
    in_progress_conferences,
    parse_start,
    parse_stop,
    rfc2822,
    sid_dialect,
)
from harness.core.rules import Checker
from harness.core.secret import Secret


ACC, CONF, SID = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())


def good_body(**over: object) -> bytes:
    doc: dict[str, object] = {
        "account_sid": ACC,
        "conference_sid": CONF,
        "date_updated": "Mon, 30 Oct 2023 15:35:13 +0000",
        "name": None,
        "sid": SID,
        "status": "in-progress",
        "uri": f"/api/laml/2010-04-01/Accounts/{ACC}/Conferences/{CONF}/Streams/{SID}.json",
    }
    doc.update(over)
    return json.dumps(doc).encode()


def failed(checker: Checker) -> set[str]:
    return {r for r, c in checker.counts.items() if c.failures}


@given(
    st.lists(
        st.tuples(st.text(min_size=1, max_size=10), st.text(max_size=10)), max_size=99
    ),
    st.sampled_from([None, "inbound_track", "both_tracks"]),
    st.sampled_from([None, "PCMU", "L16@24000h"]),
    st.booleans(),
)
def test_form_roundtrips_through_the_parser(params, track, codec, real_time) -> None:
    req = StartStreamRequest(
        url="wss://example.test/s",
        name="n",
        track=track,
        codec=codec,
        real_time=real_time,
        parameters=tuple(params),
        bearer_token=Secret("t"),
    )
    parsed = parse_start(dict(req.form()))
    assert isinstance(parsed, StartStreamRequest)
    assert (
        parsed.parameters == tuple(params)
        and parsed.track == track
        and parsed.codec == codec
    )
    assert parsed.real_time == real_time and parsed.bearer_token == Secret("t")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ws://example.test/s", "the websocket URL schema is not WSS"),
        ("wss://example.test/s ", "the websocket URL has whitespace"),
        ("wss://exa mple.test/s", "the websocket URL has whitespace"),
        ("wss:///nohost", "the websocket URL provided is invalid"),
        ("https://example.test/s", "the websocket URL schema is not WSS"),
    ],
)
def test_bad_websocket_urls_get_31922(url, message) -> None:
    assert parse_start({"Url": url}) == [FieldError("Url", message, 400, 31922)]


@pytest.mark.parametrize(
    ("fields", "error_field"),
    [
        ({}, "Url"),
        ({"Url": "wss://x/s", "Track": "both"}, "Track"),
        ({"Url": "wss://x/s", "StreamCodec": "G722"}, "StreamCodec"),
        ({"Url": "wss://x/s", "StreamRealTime": "yes"}, "StreamRealTime"),
        ({"Url": "wss://x/s", "StatusCallbackMethod": "PUT"}, "StatusCallbackMethod"),
        (
            {"Url": "wss://x/s", "Parameter100.Name": "a", "Parameter100.Value": "b"},
            "Parameter100.Name",
        ),
        ({"Url": "wss://x/s", "Parameter1.Name": "a"}, "Parameter1.Value"),
        ({"Url": "wss://x/s", "Parameter1.Value": "a"}, "Parameter1.Name"),
        (
            {"Url": "wss://x/s", "Parameter2.Name": "a", "Parameter2.Value": "b"},
            "Parameter1.Name",
        ),
    ],
)
def test_each_invalid_field_is_named(fields, error_field) -> None:
    result = parse_start(fields)
    assert isinstance(result, list) and [e.field for e in result] == [error_field]


def test_call_streams_have_no_codec() -> None:
    """contract §2.2: StreamCodec and StreamRealTime are conference-only."""
    result = parse_start({"Url": "wss://x/s", "StreamCodec": "PCMU"}, conference=False)
    assert isinstance(result, list) and result[0].field == "StreamCodec"


def test_stop_accepts_only_stopped() -> None:
    assert parse_stop({"Status": "stopped"}) is None
    assert parse_stop({"Status": "in-progress"}) == FieldError(
        "Status", "Only 'stopped' is allowed"
    )
    assert parse_stop({}) == FieldError("Status", "Status is required")


def test_rfc2822() -> None:
    assert rfc2822(1698680113) == "Mon, 30 Oct 2023 15:35:13 +0000"


def check_create(status: int, body: bytes, name: str | None = None) -> Checker:
    checker = Checker("req-1")
    check_stream_response(
        checker,
        status,
        body,
        kind="create",
        account_sid=ACC,
        conference_sid=CONF,
        name=name,
    )
    return checker


def test_a_conformant_create_response_passes_and_reports_its_status_reading() -> None:
    checker = check_create(200, good_body())
    assert failed(checker) == set() and checker.readings == {
        "REST-CREATE-003": "signalwire",
        "REST-CREATE-007": "in-progress",
    }
    assert check_create(200, good_body(status="queued")).readings == {
        "REST-CREATE-003": "signalwire",
        "REST-CREATE-007": "queued",
    }


def test_twilio_stream_sids_are_a_reading_not_a_failure() -> None:
    """contract §2.3: Twilio's stream sids are MZ + 32 hex; both dialects pass."""
    sid = "MZ" + uuid.uuid4().hex
    uri = f"/2010-04-01/Accounts/{ACC}/Conferences/{CONF}/Streams/{sid}.json"
    checker = check_create(200, good_body(sid=sid, uri=uri))
    assert failed(checker) == set()
    assert checker.readings["REST-CREATE-003"] == "twilio"
    assert sid_dialect(uuid.uuid4().hex) is None  # 32 hex without dashes


@pytest.mark.parametrize(
    ("over", "rule"),
    [
        ({"extra": 1}, "REST-CREATE-002"),
        ({"sid": "b3877c40-da60-4998-90ad-b792e98472st"}, "REST-CREATE-003"),
        ({"date_updated": "Tue, 25 Sept 2018 20:00:00 +0000"}, "REST-CREATE-004"),
        ({"uri": "/Streams/x"}, "REST-CREATE-005"),
        ({"name": "unexpected"}, "REST-CREATE-006"),
        ({"status": "stopped"}, "REST-CREATE-007"),
    ],
)
def test_each_response_defect_fails_its_rule(over, rule) -> None:
    assert rule in failed(check_create(200, good_body(**over)))


def test_non_200_and_garbage() -> None:
    assert failed(check_create(500, b"")) == {"REST-CREATE-001"}
    assert failed(check_create(200, b"<html>")) == {"REST-CREATE-002"}
    assert failed(check_create(200, b"[1]")) == {"REST-CREATE-002"}


def test_stop_response() -> None:
    checker = Checker("req-1")
    check_stream_response(
        checker,
        200,
        good_body(status="stopped"),
        kind="stop",
        account_sid=ACC,
        conference_sid=CONF,
        name=None,
        stream_sid=SID,
    )
    assert failed(checker) == set()
    checker = Checker("req-1")
    check_stream_response(
        checker,
        200,
        good_body(),
        kind="stop",
        account_sid=ACC,
        conference_sid=CONF,
        name=None,
        stream_sid=str(uuid.uuid4()),
    )
    assert failed(checker) == {"REST-STOP-001", "REST-STOP-002"}


def test_in_progress_conferences_reads_the_list_page_defensively() -> None:
    page = {
        "conferences": [
            {"sid": "CF1", "status": "in-progress"},
            {"sid": "CF2", "status": "completed"},
            {"sid": "", "status": "in-progress"},
            {"status": "in-progress"},
            "junk",
            {"sid": "CF3", "status": "in-progress"},
        ]
    }
    assert in_progress_conferences(page) == ["CF1", "CF3"]
    assert in_progress_conferences({"conferences": None}) == []
    assert in_progress_conferences([]) == []


def _canonical_uuid(value: object) -> bool:
    """The definition the regex replaced (issue 14), kept as the oracle."""
    if not isinstance(value, str):
        return False
    try:
        return str(uuid.UUID(value)) == value.lower()
    except ValueError:
        return False


_HEXISH = st.text(alphabet="0123456789abcdefABCDEFgG-_{}:urn \n", max_size=40)


@given(
    st.one_of(
        _HEXISH,
        st.uuids().map(str),
        st.uuids().map(lambda u: str(u).upper()),
        st.uuids().map(lambda u: u.hex),
        st.uuids().map(lambda u: "{" + str(u) + "}"),
        st.uuids().map(lambda u: f"urn:uuid:{u}"),
        st.uuids().map(lambda u: str(u) + "\n"),
        st.uuids().map(lambda u: str(u).replace("-", "_", 1)),
        st.text(max_size=40),
    )
)
def test_uuid_sids_are_judged_as_uuid_module_did(value: str) -> None:
    assert (sid_dialect(value) == "signalwire") == _canonical_uuid(value)


def test_a_date_that_fits_the_pattern_but_is_no_date_fails_every_time() -> None:
    """The parse is cached per distinct value: a bad one stays bad, a good one good."""
    bad = good_body(date_updated="Mon, 31 Feb 2023 15:35:13 +0000")
    for _ in range(3):
        assert failed(check_create(200, bad)) == {"REST-CREATE-004"}
        assert failed(check_create(200, good_body())) == set()


def _evidence(checker: Checker) -> dict[str, tuple[str, str]]:
    return {v.rule: (v.expected, v.actual) for v in checker.violations}


def test_violations_carry_the_same_evidence_text() -> None:
    """The evidence is built only for a failure, and reads as before issue 14."""
    bad_sid = "b3877c40-da60-4998-90ad-b792e98472st"
    other = str(uuid.uuid4())
    assert _evidence(check_create(200, good_body(sid=bad_sid, conference_sid=other)))[
        "REST-CREATE-003"
    ] == (
        f"uuid sid, account {ACC}, conference {CONF}",
        f"sid {bad_sid}, account {ACC}, conference {other}",
    )
    date = "Tue, 25 Sept 2018 20:00:00 +0000"
    evidence = _evidence(check_create(200, good_body(date_updated=date, uri="/x")))
    assert evidence["REST-CREATE-004"] == ("e.g. Mon, 30 Oct 2023 15:35:13 +0000", date)
    assert evidence["REST-CREATE-005"] == (
        f".../Conferences/{CONF}/Streams/{SID}.json",
        "/x",
    )
    assert _evidence(check_create(200, good_body(name="n")))["REST-CREATE-006"] == (
        "None",
        "n",
    )
    fields = sorted(
        ["account_sid", "conference_sid", "date_updated", "name", "sid", "status"]
    )
    assert _evidence(check_create(200, good_body(extra=1)))["REST-CREATE-002"] == (
        str(fields + ["uri"]),
        str(sorted([*fields, "extra", "uri"])),
    )
    assert _evidence(check_create(200, good_body(sid=5)))["REST-CREATE-002"] == (
        str(fields + ["uri"]),
        "a field of the wrong type",
    )
    checker = Checker("req-1")
    check_stream_response(
        checker,
        200,
        good_body(),
        kind="create",
        account_sid=ACC,
        conference_sid=CONF,
        name=None,
        content_type="text/html; charset=utf-8",
    )
    assert _evidence(checker)["REST-CREATE-008"] == (
        "Content-Type application/json (create answer)",
        "text/html; charset=utf-8",
    )
