"""Status callbacks, sans I/O: CB-* rules per stream, signatures, nothing raises."""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import urlencode

import pytest
from hypothesis import given, strategies as st

from harness.core.callbacks import (
    METHOD_PARAM,
    CallbackChecker,
    signature,
    signature_valid,
)
from harness.core.records import MemorySink, columns
from harness.core.secret import Secret


KEY = Secret("signing-key")
BASE = "https://127.0.0.1:8443/callbacks"
SID = "7d56cc11-536d-4a45-b4fb-ed3d55be843b"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def params(event: str = "stream-started", **over: str) -> dict[str, str]:
    p = {
        "AccountSid": "b08dacad-2f6c-4de1-93d6-cc732e0c69c5",
        "CallSid": "76ac3c36-56da-4a3e-a0d6-b5f8df6da9ad",
        "ConferenceSid": "b3877c40-da60-4998-90ad-b792e98472cf",
        "StreamSid": SID,
        "StreamName": SID,
        "StreamEvent": event,
        "StreamTrack": "both_tracks",
        "Timestamp": "2026-11-25T13:20:31.083+00:00",
    }
    if event == "stream-error":
        p["StreamError"] = "connection_refused"
    p.update(over)
    return {k: v for k, v in p.items() if v != "-"}


def post(
    checker: CallbackChecker,
    p: dict[str, str],
    *,
    method: str = "POST",
    sign: bool = True,
    header: str = "X-SignalWire-Signature",
    requested: str | None = "POST",
    content_type: str = "application/x-www-form-urlencoded",
) -> MemorySink:
    url = BASE + (f"?{METHOD_PARAM}={requested}" if requested else "")
    headers = {"Content-Type": content_type} if content_type else {}
    body = b""
    if method == "GET":
        url += ("&" if "?" in url else "?") + urlencode(p)
        signed: list[tuple[str, str]] = []
    else:
        body = urlencode(p).encode()
        signed = list(p.items())
    if sign:
        headers[header] = signature(KEY, url, signed)
    sink = MemorySink()
    checker.receive(method, url, headers, body, 1, sink)
    return sink


def failed(checker: CallbackChecker) -> set[str]:
    sink = MemorySink()
    checker.close(sink)
    return {str(r[2]) for r in sink.rows["rule_checks"] if int(str(r[4]))}


def test_the_twilio_algorithm_matches_a_hand_computation() -> None:
    url, p = "https://x.test/cb", [("b", "2"), ("a", "1")]
    mac = hmac.new(b"signing-key", b"https://x.test/cba1b2", hashlib.sha1).digest()
    assert signature(KEY, url, p) == base64.b64encode(mac).decode()


def test_signatures_are_checked_with_and_without_the_default_port() -> None:
    p = [("a", "1")]
    assert signature_valid(
        KEY, "https://x.test/cb", p, signature(KEY, "https://x.test:443/cb", p)
    )
    assert signature_valid(
        KEY, "https://x.test:443/cb", p, signature(KEY, "https://x.test/cb", p)
    )
    assert not signature_valid(
        KEY, "https://x.test/cb", p, signature(KEY, "https://x.test/cc", p)
    )
    assert not signature_valid(
        Secret("other"), "https://x.test/cb", p, signature(KEY, "https://x.test/cb", p)
    )


@pytest.mark.parametrize("method", ["POST", "GET"])
@pytest.mark.parametrize("header", ["X-SignalWire-Signature", "X-Twilio-Signature"])
def test_a_conformant_stream_passes_and_is_recorded(method: str, header: str) -> None:
    checker = CallbackChecker(KEY)
    rows = []
    for event in ("stream-started", "stream-stopped"):
        sink = post(
            checker, params(event), method=method, header=header, requested=method
        )
        rows += sink.rows["callbacks"]
    assert failed(checker) == set()
    assert [len(r) for r in rows] == [len(columns("callbacks"))] * 2
    first = dict(zip(columns("callbacks"), rows[0], strict=True))
    assert first["stream_sid"] == SID and first["method"] == method
    assert first["signature_ok"] is True and first["signature"] == "valid"
    sink = MemorySink()
    checker.close(sink)
    readings = {r[2]: r[5] for r in sink.rows["rule_checks"]}
    assert readings["CB-005"] == header


def test_an_error_alone_or_after_start_is_in_order() -> None:
    checker = CallbackChecker()
    post(checker, params("stream-error"), sign=False)
    post(checker, params("stream-started", StreamSid="s2"), sign=False)
    post(checker, params("stream-error", StreamSid="s2"), sign=False)
    assert failed(checker) == set()


@pytest.mark.parametrize(
    "events",
    [
        ["stream-stopped", "stream-started"],  # the callback-order defect
        ["stream-started", "stream-started"],
        ["stream-started", "stream-stopped", "stream-stopped"],
        ["stream-started", "stream-stopped", "stream-error"],
    ],
)
def test_events_out_of_order_fail_cb_001(events: list[str]) -> None:
    checker = CallbackChecker()
    for event in events:
        post(checker, params(event), sign=False)
    assert failed(checker) == {"CB-001"}


@pytest.mark.parametrize(
    "over",
    [
        {"AccountSid": "-"},
        {"StreamName": "-"},
        {"Timestamp": "yesterday"},
        {"StreamTrack": "both"},
        {"StreamError": "oops"},  # only on stream-error
    ],
)
def test_missing_or_bad_parameters_fail_cb_002(over: dict[str, str]) -> None:
    checker = CallbackChecker()
    post(checker, params(**over), sign=False)
    assert failed(checker) == {"CB-002"}


def test_an_error_without_its_message_fails_cb_002() -> None:
    checker = CallbackChecker()
    post(checker, params("stream-error", StreamError="-"), sign=False)
    assert failed(checker) == {"CB-002"}


def test_an_unknown_event_fails_cb_002_only() -> None:
    checker = CallbackChecker()
    post(checker, params("stream-paused"), sign=False)
    assert failed(checker) == {"CB-002"}


@pytest.mark.parametrize(
    ("method", "requested", "content_type"),
    [
        ("GET", "POST", ""),
        ("POST", "GET", "application/x-www-form-urlencoded"),
        ("POST", "POST", "application/json"),
        ("PUT", None, "application/x-www-form-urlencoded"),
    ],
)
def test_the_wrong_method_or_encoding_fails_cb_003(
    method: str, requested: str | None, content_type: str
) -> None:
    checker = CallbackChecker()
    post(
        checker,
        params(),
        method=method,
        requested=requested,
        content_type=content_type,
        sign=False,
    )
    assert "CB-003" in failed(checker)


def test_without_a_requested_method_get_and_post_both_pass() -> None:
    checker = CallbackChecker()
    post(checker, params(), requested=None, sign=False)
    post(checker, params("stream-stopped"), method="GET", requested=None, sign=False)
    assert failed(checker) == set()


def test_a_missing_or_wrong_signature_fails_cb_004_without_leaking_it() -> None:
    checker = CallbackChecker(KEY)
    unsigned = post(checker, params(), sign=False)
    assert unsigned.rows["callbacks"][0][5] == "missing"
    headers = {**FORM, "X-SignalWire-Signature": "AAAA"}
    sink = MemorySink()
    body = urlencode(params("stream-stopped")).encode()
    checker.receive("POST", BASE, headers, body, 2, sink)
    assert sink.rows["callbacks"][0][4:6] == (False, "invalid")
    assert failed(checker) == {"CB-004"}
    rows = MemorySink()
    checker.close(rows)
    assert all("AAAA" not in str(r) for r in rows.rows["violations"])


def test_without_a_key_signatures_are_not_checked() -> None:
    checker = CallbackChecker()
    sink = post(checker, params(), sign=False)
    assert sink.rows["callbacks"][0][4:6] == (False, "unchecked")
    assert failed(checker) == set()


def test_a_callback_without_a_stream_sid_has_its_own_subject() -> None:
    checker = CallbackChecker()
    post(checker, params(StreamSid="-"), sign=False)
    assert list(checker.streams) == ["callback:no-stream-sid"]
    assert failed(checker) == {"CB-002"}


@given(
    st.sampled_from(["GET", "POST", "PUT", "", "\x00"]),
    st.text(max_size=80) | st.sampled_from(["[::1", "h:99999/x?a=1&&b", "x#y?z"]),
    st.dictionaries(st.text(max_size=30), st.text(max_size=30), max_size=4),
    st.binary(max_size=300),
)
def test_arbitrary_requests_never_raise(method, path, headers, body) -> None:
    for key, url in ((None, BASE + path), (KEY, "https://" + path)):
        checker = CallbackChecker(key)
        sink = MemorySink()
        checker.receive(method, url, headers, body, 0, sink)
        checker.close(sink)
        assert len(sink.rows["callbacks"]) == 1
