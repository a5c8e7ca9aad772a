"""The join by sid: any one change a platform makes to the parameters is reported.

The receiver's side runs for real (:class:`harness.core.session.StreamSession` reads
the ``start`` message and writes its ``streams`` row); the request's side is
what scenarios and the negative suite record (:func:`fingerprint` of the
parameters sent, the exact ``streamload`` value).
"""

from __future__ import annotations

import dataclasses
import json

from hypothesis import given, settings, strategies as st

from harness.core.codecs import get_codec
from harness.core.correlation import PARAM_NAME, Expectation, digest, fingerprint
from harness.core.join import (
    START_RULES,
    ArrivedStream,
    FrameFacts,
    SentRequest,
    join,
    judge,
    needs_frames,
)
from harness.core.records import MemorySink, columns
from harness.core.session import StreamSession
from tests.streams import valid_stream


SID = "7d56cc11-536d-4a45-b4fb-ed3d55be843b"

# What the contract allows (harness/core/api.py: parse_start, StartStreamRequest.form):
# any text as a name or value, names distinct (they become JSON object keys),
# and 99 parameters at most, streamload's included.
_names = st.text(min_size=1, max_size=12).filter(lambda n: n != PARAM_NAME)
_params = st.lists(
    st.tuples(_names, st.text(max_size=12)),
    max_size=98,
    unique_by=lambda p: p[0],
)


def _sent(params: list[tuple[str, str]], *, codec: str = "PCMU", track: str = "inbound_track") -> tuple[SentRequest, list[tuple[str, str]]]:  # fmt: skip
    exp = Expectation("run-1", "req-1", codec, track, len(params), digest(params))
    full = [*params, (PARAM_NAME, exp.encode())]
    request = SentRequest("req-1", SID, codec, track, fingerprint(full), exp.encode())
    return request, full


def _arrive(
    parameters: list[tuple[str, str]],
    *,
    codec: str = "PCMU",
    track: str = "inbound_track",
    frames: int = 3,
) -> tuple[ArrivedStream, StreamSession]:
    """Feed a session a stream whose start carries ``parameters`` (in that order)."""
    texts, _ = valid_stream(codec, track, 0, frames, stream_sid=SID)
    start = json.loads(texts[1])
    if parameters:
        start["start"]["customParameters"] = dict(parameters)
    else:
        del start["start"]["customParameters"]
    session, sink = StreamSession(0), MemorySink()
    for i, text in enumerate([texts[0], json.dumps(start), *texts[2:]], start=1):
        session.receive(text, i * 20_000_000, sink)
    session.close(10**9, 1000, sink)
    (row,) = sink.rows["streams"]
    doc = dict(zip(columns("streams"), row, strict=True))
    return (
        ArrivedStream(
            *(str(doc[k]) for k in ("stream_sid", "tracks", "media_format", "params", "correlation", "account_sid"))
        ),
        session,
    )  # fmt: skip


def _changes(draw: st.DrawFn, full: list[tuple[str, str]]) -> tuple[str, str, list[tuple[str, str]]]:  # fmt: skip
    """One change a platform may make: (kind, the name it concerns, the result)."""
    names = [n for n, _ in full]
    kinds = ["drop", "add", "rename", "alter", "drop ours", "alter ours"]
    if len(full) >= 2:
        kinds.append("swap")
    kind = draw(st.sampled_from(kinds))
    out = list(full)
    fresh = _names.filter(lambda n: n not in names)
    if kind in ("drop", "drop ours"):
        i = (
            len(full) - 1
            if kind == "drop ours"
            else draw(st.integers(0, len(full) - 1))
        )
        name = out.pop(i)[0]
    elif kind == "add":
        name = draw(fresh)
        out.insert(draw(st.integers(0, len(full))), (name, draw(st.text(max_size=12))))
    elif kind == "rename":
        i = draw(st.integers(0, len(full) - 1))
        name = out[i][0]
        out[i] = (draw(fresh), out[i][1])
    elif kind in ("alter", "alter ours"):
        i = (
            len(full) - 1
            if kind == "alter ours"
            else draw(st.integers(0, len(full) - 1))
        )
        name, value = out[i]
        out[i] = (name, draw(st.text(max_size=12).filter(lambda v: v != value)))
    else:
        i, j = draw(st.lists(st.integers(0, len(full) - 1), min_size=2, max_size=2, unique=True))  # fmt: skip
        out[i], out[j] = out[j], out[i]
        name = out[i][0]
    return kind, name, out


@settings(max_examples=150, deadline=None)
@given(_params, st.data())
def test_any_single_change_fails_start_003_naming_the_parameter(
    params: list[tuple[str, str]], data: st.DataObject
) -> None:
    sent, full = _sent(params)
    arrived, _ = _arrive(full)
    checker, judged = judge(sent, arrived)
    assert judged == set(START_RULES)
    assert checker.failures == 0, checker.violations  # unchanged: never reported

    kind, name, changed = data.draw(st.composite(lambda d: _changes(d, full))())
    arrived, session = _arrive(changed)
    checker, _ = judge(sent, arrived)
    assert {v.rule for v in checker.violations} == {"WS-START-003"}, kind
    (evidence,) = checker.violations
    assert repr(name) in evidence.actual, (kind, evidence.actual)
    word = {"drop": "lost", "drop ours": "lost", "add": "added", "rename": "renamed",
            "alter": "altered", "alter ours": "altered", "swap": "reordered"}[kind]  # fmt: skip
    assert word in evidence.actual
    if session.expectation == Expectation.decode(sent.correlation):
        # streamload's value came through intact: the receiver sees it live too
        assert session.checker.counts["WS-START-003"].failures == 1, kind


def test_a_dropped_correlation_leaves_the_receiver_blind_but_not_the_join() -> None:
    sent, full = _sent([("a", "1"), ("b", "2")])
    arrived, session = _arrive(full[:-1])
    assert session.expectation is None
    assert "WS-START-003" not in session.checker.counts  # nothing to judge it by
    joined = join([sent], [arrived])
    (checker,) = joined.checkers
    assert checker.counts["WS-START-003"].failures == 1
    assert checker.violations[0].actual == f"lost '{PARAM_NAME}' (Parameter3)"
    assert joined.superseded == {(SID, rule) for rule in START_RULES}


def test_a_forged_correlation_value_does_not_fool_the_join() -> None:
    """streamload's value names another request (and codec): the receiver
    believes it; the sid says otherwise."""
    sent, full = _sent([("a", "1")])
    forged = Expectation("run-1", "req-2", "PCMA", "inbound_track", 1, digest(full[:1]))
    arrived, session = _arrive([full[0], (PARAM_NAME, forged.encode())])
    assert session.checker.counts["WS-START-003"].failures == 0  # fooled
    assert session.checker.counts["WS-START-001"].failures == 1  # against PCMA
    checker, _ = judge(sent, arrived)
    assert checker.counts["WS-START-001"].failures == 0  # PCMU was asked and sent
    assert checker.violations[0].rule == "WS-START-003"
    assert checker.violations[0].actual.startswith(
        f"altered the value of '{PARAM_NAME}'"
    )


def test_codec_and_tracks_are_judged_against_the_request() -> None:
    sent, full = _sent([], codec="L16@16000h", track="both_tracks")
    arrived, _ = _arrive(full[:-1], codec="PCMU", track="inbound_track")
    checker, judged = judge(sent, arrived)
    failed = {v.rule for v in checker.violations}
    assert failed == {"WS-START-001", "WS-START-002", "WS-START-003"}
    # the receiver judged the frames against PCMU and one track: judge them again
    assert needs_frames(sent, arrived)
    size = get_codec("PCMU").frame_bytes
    facts = FrameFacts({"inbound": 3}, {size: 3})
    checker, judged = judge(sent, arrived, facts)
    assert judged == {*START_RULES, "WS-MEDIA-001", "WS-MEDIA-003"}
    assert checker.counts["WS-MEDIA-001"].failures == 0  # inbound is requested
    media = checker.counts["WS-MEDIA-003"]
    assert (media.checks, media.failures) == (3, 3)
    assert "3 frames of 160 bytes" in [v.actual for v in checker.violations][-1]


def test_streams_without_a_request_keep_the_receivers_verdicts() -> None:
    sent, full = _sent([("a", "1")])
    arrived, _ = _arrive(full)
    other = ArrivedStream("another-sid", "inbound", "audio/x-mulaw;8000;1", "[]", "")
    unsent = SentRequest("req-9", SID, "PCMU", "inbound_track", "", "")
    assert join([unsent], [arrived, other]).checkers == []  # no correlation recorded
    joined = join([sent], [arrived, other])
    assert [c.subject for c in joined.checkers] == [SID]
    assert not needs_frames(sent, arrived)


def test_the_stream_s_sid_and_account_are_its_request_s() -> None:
    """WS-START-005/006: only the join knows the answer's sid and the request's account."""
    sent, full = _sent([("a", "1")])
    arrived, session = _arrive(full)
    assert arrived.account_sid == session.account_sid != ""  # the streams row has it
    sent = dataclasses.replace(sent, account_sid=arrived.account_sid)
    (checker,) = join([sent], [arrived]).checkers
    for rule in ("WS-START-005", "WS-START-006"):
        assert (checker.counts[rule].checks, checker.counts[rule].failures) == (1, 0)
    other = dataclasses.replace(arrived, account_sid="another-account")
    (checker,) = join([sent], [other]).checkers
    assert checker.counts["WS-START-006"].failures == 1
    assert checker.violations[-1].actual == "another-account"
    # not recorded (older records): not judged
    (checker,) = join([dataclasses.replace(sent, account_sid="")], [other]).checkers
    assert "WS-START-006" not in checker.counts


def test_a_start_stream_sid_unlike_the_answer_s_fails_by_request_id() -> None:
    sent, full = _sent([("a", "1")])
    arrived, _ = _arrive(full)
    moved = dataclasses.replace(arrived, stream_sid="another-sid")
    joined = join([sent], [moved])
    (checker,) = joined.checkers
    assert checker.subject == "another-sid"
    assert checker.counts["WS-START-005"].failures == 1
    assert SID in str(checker.violations[0].expected)
    # the receiver judged start against the intact streamload value: it stands
    assert joined.superseded == set()
    # the answer's sid arrived too: the other stream is not its request's
    assert [c.subject for c in join([sent], [arrived, moved]).checkers] == [SID]
