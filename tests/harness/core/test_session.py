"""The receiver-side session: valid streams pass, every single mutation is caught, nothing raises."""

from __future__ import annotations

import functools
import json
import math
import random
import uuid
from collections.abc import Callable
from typing import cast

import pytest
from hypothesis import given, settings, strategies as st

from harness.core.api import TRACKS
from harness.core.codecs import CODEC_NAMES
from harness.core.correlation import PARAM_NAME, fingerprint
from harness.core.metrics import InterarrivalJitter
from harness.core.metrics.jitter import WARMUP_FRAMES
from harness.core.records import MemorySink, columns
from harness.core.session import MAX_EXTRA_TRACKS, MAX_KEY_CHARS, StreamSession
from harness.core.transitions import State
from tests.streams import valid_stream


MS = 1_000_000
TWILIO_SID = "MZ" + "0123456789abcdef" * 2
TWILIO_CALL = "CA" + "fedcba9876543210" * 2
TWILIO_ACCOUNT = "AC" + "00112233445566778899aabbccddeeff"


def twilio(texts: list[str]) -> list[str]:
    """The same stream in Twilio's dialect (contract §5.4): version 1.0.0, MZ/AC/CA
    ids, a top-level streamSid on start/media/stop, a stop body."""
    out = []
    for text in texts:
        doc = json.loads(text)
        event = doc["event"]
        if event == "connected":
            doc["version"] = "1.0.0"
        elif event == "start":
            doc["start"].update(
                streamSid=TWILIO_SID, accountSid=TWILIO_ACCOUNT, callSid=TWILIO_CALL
            )
        elif event == "stop":
            doc["stop"] = {"accountSid": TWILIO_ACCOUNT, "callSid": TWILIO_CALL}
        if event != "connected":
            doc["streamSid"] = TWILIO_SID
        out.append(json.dumps(doc))
    return out


def dialect_stream(dialect: str, *args: object) -> list[str]:
    texts, _ = valid_stream(*args)  # type: ignore[arg-type]
    return twilio(texts) if dialect == "twilio" else list(texts)


def feed(
    texts: list[str | bytes], close: bool = True
) -> tuple[StreamSession, MemorySink]:
    session, sink = StreamSession(0), MemorySink()
    for i, text in enumerate(texts, start=1):
        session.receive(text, i * 20 * MS, sink)
    if close:
        session.close((len(texts) + 1) * 20 * MS, 1000, sink)
    return session, sink


def failed_rules(sink: MemorySink) -> set[str]:
    return {str(r[2]) for r in sink.rows["rule_checks"] if int(r[4]) > 0}  # type: ignore[call-overload]


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(["signalwire", "twilio"]),
    st.sampled_from(CODEC_NAMES),
    st.sampled_from(TRACKS),
    st.sampled_from([0, 1, 10, 98]),
    st.integers(1, 12),
)
def test_any_valid_stream_passes_every_rule(
    dialect, codec, track, n_params, chunks
) -> None:
    texts, exp = valid_stream(codec, track, n_params, chunks)
    if dialect == "twilio":
        texts = twilio(texts)
    session, sink = feed(list(texts))
    assert failed_rules(sink) == set()
    assert session.dialect == dialect
    assert session.state is State.STOPPED
    n_tracks = 2 if track == "both_tracks" else 1
    assert session.frames == len(sink.rows["frames"]) == chunks * n_tracks
    (row,) = sink.rows["streams"]
    stream = dict(zip(columns("streams"), row, strict=True))
    assert stream["request_id"] == exp.request_id and stream["codec"] == codec
    assert stream["frames"] == chunks * n_tracks and stream["violations"] == 0


def _mutations(texts: list[str]) -> st.SearchStrategy[tuple[str, list[str]]]:
    n = len(texts)
    media = [i for i, t in enumerate(texts) if '"media"' in t]

    def drop(i: int) -> tuple[str, list[str]]:
        return f"drop {i}", texts[:i] + texts[i + 1 :]

    def duplicate(i: int) -> tuple[str, list[str]]:
        return f"duplicate {i}", texts[: i + 1] + texts[i:]

    def swap(i: int) -> tuple[str, list[str]]:
        t = list(texts)
        t[i], t[i + 1] = t[i + 1], t[i]
        return f"swap {i}", t

    def edit(i: int, how: str) -> tuple[str, list[str]]:
        doc = json.loads(texts[i])
        body = doc.get("media", {})
        if how == "retype":
            doc["sequenceNumber"] = int(doc.get("sequenceNumber", "0"))
        elif how == "retype-chunk":
            body["chunk"] = int(body["chunk"])
        elif how == "resize":
            body["payload"] = body["payload"][:-4]
        elif how == "rename":
            body["chunks"] = body.pop("chunk")
        elif how == "rename-track":
            body["track"] = "both"
        elif how == "timestamp":
            body["timestamp"] = str(int(body["timestamp"]) + 100)
        elif how == "sid":
            doc["streamSid"] = "MZ" + "9" * 32
        t = list(texts)
        t[i] = json.dumps(doc)
        return f"{how} {i}", t

    def start(how: str) -> tuple[str, list[str]]:
        doc = json.loads(texts[1])
        body = doc["start"]
        if how == "tracks":
            flip = {"inbound": "outbound", "outbound": "inbound"}
            tracks = body["tracks"]
            body["tracks"] = tracks[:1] if len(tracks) > 1 else [flip[tracks[0]]]
        elif how == "rate":
            body["mediaFormat"]["sampleRate"] *= 2
        elif how == "params":
            body["customParameters"]["extra"] = "1"
        elif how == "version":
            connected = json.loads(texts[0])
            connected["version"] = "0.0.1"
            return how, [json.dumps(connected), *texts[1:]]
        t = list(texts)
        t[1] = json.dumps(doc)
        return f"start {how}", t

    return st.one_of(
        st.integers(0, n - 1).map(drop),
        st.integers(0, n - 1).map(duplicate),
        st.integers(0, n - 2).map(swap),
        st.tuples(st.integers(1, n - 1), st.just("retype")).map(lambda a: edit(*a)),
        st.tuples(
            st.sampled_from(media),
            st.sampled_from(
                ["resize", "rename", "retype-chunk", "rename-track", "timestamp", "sid"]
            ),
        ).map(lambda a: edit(*a)),
        st.sampled_from(["tracks", "rate", "params", "version"]).map(start),
    )


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_every_single_mutation_is_reported(data) -> None:
    texts = dialect_stream(
        data.draw(st.sampled_from(["signalwire", "twilio"])),
        data.draw(st.sampled_from(CODEC_NAMES)),
        data.draw(st.sampled_from(TRACKS)),
        data.draw(st.integers(0, 3)),
        data.draw(st.integers(2, 6)),
    )
    what, mutated = data.draw(_mutations(texts))
    _, sink = feed(list(mutated))
    assert failed_rules(sink), f"{what} went unnoticed"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "event",
                    "sequenceNumber",
                    "media",
                    "start",
                    "track",
                    "chunk",
                    "payload",
                    "timestamp",
                    "streamSid",
                    "x",
                ]
            ),
            inner,
            max_size=5,
        )
    ),
    max_leaves=20,
)


@functools.cache
def _short_stream(dialect: str) -> tuple[str, ...]:
    return tuple(dialect_stream(dialect, "PCMU", "both_tracks", 1, 2))


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.binary(max_size=50) | st.text(max_size=50) | json_values.map(json.dumps),
        max_size=8,
    )
)
def test_arbitrary_input_never_raises(inputs) -> None:
    for dialect in ("signalwire", "twilio"):
        texts = _short_stream(dialect)
        session, sink = feed([*texts[:3], *inputs, *texts[3:]])
        assert session.frames == len(sink.rows["frames"])
        assert session.checker.failures <= sum(
            c.checks for c in session.checker.counts.values()
        )


def test_one_payload_a_second_per_track_is_kept_for_audio_checks() -> None:
    texts, _ = valid_stream("L16@16000h", "both_tracks", 0, 120)
    _, sink = feed(list(texts))
    samples = sink.rows["audio_samples"]
    assert sorted((r[1], r[2]) for r in samples) == [
        (t, c) for t in ("inbound", "outbound") for c in (1, 51, 101)
    ]
    assert {len(r[4]) for r in samples} == {640}  # type: ignore[arg-type]


def test_numeric_fields_are_reported_but_the_frame_is_still_measured() -> None:
    texts, _ = valid_stream("PCMU", "inbound_track", 0, 2)
    doc = json.loads(texts[2])
    doc["media"]["chunk"] = 1
    texts[2] = json.dumps(doc)
    session, sink = feed(list(texts))
    assert failed_rules(sink) == {"WS-JSON-002"}
    assert session.frames == 2


def test_evidence_names_the_stream_and_the_message() -> None:
    texts, _ = valid_stream("PCMU", "inbound_track", 0, 3)
    del texts[3]  # chunk 2 (seq 3)
    _, sink = feed(list(texts))
    evidence = {(r[1], r[2], r[3], r[4], r[5]) for r in sink.rows["violations"]}
    sid = "7d56cc11-536d-4a45-b4fb-ed3d55be843b"
    assert ("WS-SEQ-001", sid, 4, "3", "4") in evidence
    assert ("WS-MEDIA-002", sid, 4, "2", "3") in evidence


def test_missing_stop_is_reported_at_close() -> None:
    texts, _ = valid_stream(chunks=1)
    _, sink = feed(list(texts[:-1]))
    assert failed_rules(sink) == {"WS-STOP-001"}


@pytest.mark.parametrize("stopped", [False, True])
def test_a_stream_our_shutdown_cut_short_is_not_judged_on_its_stop(
    stopped: bool,
) -> None:
    """The receiver's own shutdown closed the socket: a stream not yet stopped
    has WS-STOP-001 not checked (no check at all); a stopped one still passes."""
    texts, _ = valid_stream(chunks=1)
    session, sink = feed(list(texts if stopped else texts[:-1]), close=False)
    session.close(10**12, 1001, sink, shutdown=True)
    checks = {
        str(r[2]): (int(r[3]), int(r[4]))  # type: ignore[call-overload]
        for r in sink.rows["rule_checks"]
    }
    assert checks.get("WS-STOP-001") == ((1, 0) if stopped else None)
    assert failed_rules(sink) == set()
    assert len(sink.rows["streams"]) == 1


def test_bearer_outcome_is_a_rule() -> None:
    session, sink = StreamSession(0, bearer_ok=False), MemorySink()
    session.close(1, None, sink)
    assert "WS-HANDSHAKE-001" in failed_rules(sink)


def test_close_is_idempotent() -> None:
    texts, _ = valid_stream(chunks=1)
    session, sink = feed(list(texts))
    session.close(10**12, 1000, sink)
    assert len(sink.rows["streams"]) == 1


def rules_failed(texts: list[str]) -> set[str]:
    return failed_rules(feed(list(texts))[1])


def test_nothing_after_stop_is_its_own_rule() -> None:
    texts, _ = valid_stream("PCMU", "inbound_track", 0, 2)
    assert rules_failed([*texts, texts[-2]]) == {"WS-STOP-002"}


def test_tls_outcome_is_a_rule() -> None:
    for tls, failed in ((True, set()), (False, {"WS-HANDSHAKE-002"})):
        session, sink = StreamSession(0, tls=tls), MemorySink()
        session.close(1, None, sink)
        assert failed_rules(sink) - {"WS-STOP-001"} == failed


@pytest.mark.parametrize(
    ("edit", "rule"),
    [
        ("start-sid", "WS-DIALECT-001"),
        ("call-sid", "WS-DIALECT-001"),
        ("no-top-level-sid", "WS-DIALECT-002"),
        ("no-stop-body", "WS-DIALECT-003"),
        ("stop-body-call", "WS-DIALECT-003"),
    ],
)
def test_twilio_dialect_rules(edit: str, rule: str) -> None:
    """contract §5.4: Twilio ids, the top-level streamSid and the stop body."""
    texts = twilio(valid_stream("PCMU", "inbound_track", 0, 3)[0])
    docs = [json.loads(t) for t in texts]
    if edit == "start-sid":
        docs[1]["start"]["streamSid"] = docs[1]["streamSid"] = str(uuid.uuid4())
        for d in docs[2:]:
            d["streamSid"] = docs[1]["streamSid"]
    elif edit == "call-sid":
        docs[1]["start"]["callSid"] = str(uuid.uuid4())
        docs[-1]["stop"]["callSid"] = docs[1]["start"]["callSid"]
    elif edit == "no-top-level-sid":
        del docs[3]["streamSid"]
    elif edit == "no-stop-body":
        del docs[-1]["stop"]
    elif edit == "stop-body-call":
        docs[-1]["stop"]["callSid"] = TWILIO_CALL[:-1] + "1"
    assert rules_failed([json.dumps(d) for d in docs]) == {rule}


def test_signalwire_dialect_wants_uuids_and_allows_an_agreeing_stop_body() -> None:
    texts, _ = valid_stream("PCMU", "inbound_track", 0, 2)
    docs = [json.loads(t) for t in texts]
    docs[-1]["stop"] = {"accountSid": docs[1]["start"]["accountSid"]}
    assert rules_failed([json.dumps(d) for d in docs]) == set()
    docs[-1]["stop"] = {"accountSid": "someone else"}
    assert rules_failed([json.dumps(d) for d in docs]) == {"WS-DIALECT-003"}
    docs[1]["start"]["streamSid"] = TWILIO_SID
    assert "WS-DIALECT-001" in rules_failed([json.dumps(d) for d in docs])


def test_an_unknown_version_skips_dialect_rules_but_fails_its_own() -> None:
    texts, _ = valid_stream("PCMU", "inbound_track", 0, 2)
    docs = [json.loads(t) for t in texts]
    docs[0]["version"] = "9.9.9"
    docs[1]["start"]["streamSid"] = "anything"
    session, sink = feed([json.dumps(d) for d in docs])
    assert failed_rules(sink) == {"WS-CONNECTED-001"} and session.dialect is None


def test_a_wrong_media_format_or_track_list_fails_only_its_rule() -> None:
    """Frames are judged by the request, so one wrong start field is one finding."""
    texts, _ = valid_stream("L16", "both_tracks", 0, 3)
    docs = [json.loads(t) for t in texts]
    docs[1]["start"]["mediaFormat"]["sampleRate"] = 16000  # reads as L16@16000h
    assert rules_failed([json.dumps(d) for d in docs]) == {"WS-START-001"}
    docs = [json.loads(t) for t in texts]
    docs[1]["start"]["tracks"] = ["inbound"]
    assert rules_failed([json.dumps(d) for d in docs]) == {"WS-START-002"}


def test_chunks_counted_across_tracks_fail_only_the_chunk_rule() -> None:
    texts, _ = valid_stream("PCMU", "both_tracks", 0, 20)
    docs = [json.loads(t) for t in texts]
    for n, d in enumerate(d for d in docs if d["event"] == "media"):
        d["media"]["chunk"] = str(n + 1)  # global, as the chunk-global defect does
    assert rules_failed([json.dumps(d) for d in docs]) == {"WS-MEDIA-002"}


def test_the_fast_path_counts_what_the_rule_by_rule_path_counts() -> None:
    """A conformant stream's rule counts equal those of one forced down the slow path."""
    for dialect in ("signalwire", "twilio"):
        texts = dialect_stream(dialect, "PCMU", "both_tracks", 2, 5)
        _, fast = feed(list[str | bytes](texts))
        slow_session, slow = StreamSession(0), MemorySink()
        for i, text in enumerate(texts, start=1):
            message = slow_session._decoder.decode(text)
            slow_session._dispatch(message, i * 20 * MS, slow)
        slow_session.close((len(texts) + 1) * 20 * MS, 1000, slow)
        assert sorted(fast.rows["rule_checks"]) == sorted(slow.rows["rule_checks"])
        assert fast.rows["frames"] == slow.rows["frames"]


def test_jitter_is_the_metrics_module_estimate() -> None:
    """Fast and slow path alike: the estimate per frame, NaN through the warm-up."""
    frames = WARMUP_FRAMES + 30
    texts, _ = valid_stream("PCMU", "inbound_track", 0, frames)
    session, sink = StreamSession(0), MemorySink()
    reference = InterarrivalJitter()
    expected = []
    arrival = 10**12
    for k, text in enumerate(texts):
        arrival += 20 * MS + (k * 7919 % 5) * MS  # uneven arrivals
        session.receive(text, arrival, sink)
        if '"media"' in text:
            reference.update(arrival, int(json.loads(text)["media"]["timestamp"]) * MS)
            expected.append(reference.recorded())
    got = [float(cast(float, r[7])) for r in sink.rows["frames"]]
    assert got == pytest.approx(expected, nan_ok=True)
    assert [math.isnan(v) for v in got] == [k < WARMUP_FRAMES for k in range(frames)]
    assert session.tracks["inbound"].jitter.jitter_ns == pytest.approx(
        reference.jitter_ns
    )
    assert got[-1] > 0


def test_frames_and_bytes_are_current_before_settling() -> None:
    texts, _ = valid_stream("PCMU", "inbound_track", 0, 4)
    session, sink = StreamSession(0), MemorySink()
    for i, text in enumerate(texts[:-1]):
        session.receive(text, i, sink)
    assert (session.frames, session.payload_bytes) == (4, 640)
    session.settle()
    session.settle()
    assert (session.frames, session.payload_bytes) == (4, 640)
    assert session.checker.counts["WS-MEDIA-003"].checks == 4


def test_a_hostile_expectation_never_raises() -> None:
    texts, _ = valid_stream("PCMU", "inbound_track", 0, 2)
    docs = [json.loads(t) for t in texts]
    docs[1]["start"]["customParameters"]["streamload"] = (
        "v2;run=r;req=q;codec=NOPE;track=nope;n=0;digest=x"
    )
    session, _ = feed([json.dumps(d) for d in docs])
    assert session.frames == 2


def clocked(
    stamp: Callable[[int], int], chunks: int = 500, track: str = "both_tracks"
) -> list[str]:
    """A valid stream whose chunk ``c`` carries ``timestamp = stamp(c)``."""
    texts, _ = valid_stream("PCMU", track, 0, chunks)
    out = []
    for text in texts:
        doc = json.loads(text)
        if doc["event"] == "media":
            doc["media"]["timestamp"] = str(stamp(int(doc["media"]["chunk"])))
        out.append(json.dumps(doc))
    return out


def rate_evidence(sink: MemorySink) -> list[tuple[str, str]]:
    return [
        (str(v[4]), str(v[5]))
        for v in sink.rows["violations"]
        if v[1] == "WS-MEDIA-006"
    ]


def test_a_clock_running_one_and_a_half_times_fast_fails_within_half_a_second() -> None:
    session, sink = feed(list[str | bytes](clocked(lambda c: (c - 1) * 30)))
    assert failed_rules(sink) == {"WS-MEDIA-005", "WS-MEDIA-006"}
    evidence = rate_evidence(sink)
    # the drift bound first, 0.42 s of audio in (10 ms a frame crosses 200 ms)
    assert evidence[0] == ("420 ± 200 (inbound chunk 22, first offset 0 ms)", "630")
    # every frame from chunk 22 on, and both 5 s windows (chunks 1-251, 126-376), per track
    assert session.checker.counts["WS-MEDIA-006"].failures == 2 * (479 + 2)


def test_the_drift_is_measured_from_the_first_frame_s_offset() -> None:
    """A constant first-read delay (400 ms, beyond the bound) is no drift; a
    1.5x clock after it is, the same 0.42 s in."""
    late, _ = feed(list[str | bytes](clocked(lambda c: (c - 1) * 20 + 400, 100)))
    assert late.checker.counts["WS-MEDIA-006"].failures == 0
    fast, sink = feed(list[str | bytes](clocked(lambda c: (c - 1) * 30 + 400, 100)))
    assert rate_evidence(sink)[0] == (
        "820 ± 200 (inbound chunk 22, first offset 400 ms)",
        "1030",
    )
    assert fast.checker.counts["WS-MEDIA-006"].failures == 2 * 79


@pytest.mark.parametrize(("rate", "fails"), [(1.04, False), (0.96, False), (1.06, True), (0.94, True), (1.08, True)])  # fmt: skip
def test_the_rate_over_five_seconds_keeps_within_five_percent(
    rate: float, fails: bool
) -> None:
    stamp: Callable[[int], int] = lambda c: round((c - 1) * 20 * rate)  # noqa: E731
    session, sink = feed(list[str | bytes](clocked(stamp, 300, "inbound_track")))
    count = session.checker.counts["WS-MEDIA-006"]
    # one drift check per frame and one window, chunks 1-251 (the drift bound
    # trips too from 200 ms on: 4 % is 0.8 ms a frame, past it at chunk 251)
    assert count.checks == 300 + 1
    drift = sum(abs(stamp(c) - (c - 1) * 20) > 200 for c in range(1, 301))
    assert count.failures == drift + int(fails)
    if fails and not drift:
        (_, actual), *_ = rate_evidence(sink)
        assert actual == f"{round(5000 * rate)} ms ({rate:.3f}x real time)"


def test_wall_clock_readings_with_jitter_and_a_late_start_pass() -> None:
    """SOMLENG stamps wall-clock ms since start (contract §10): the first read comes
    300 ms late (a warning: WS-MEDIA-005) and every reading wobbles by ±20 ms
    (WS-MEDIA-006 measures drift from the first frame's offset: 40 ms at most)."""
    rng = random.Random(7)
    wobble = {c: rng.randint(-20, 20) for c in range(1, 501)}
    texts = clocked(lambda c: max(0, (c - 1) * 20 + 300 + wobble[c]), 500, "inbound_track")  # fmt: skip
    for i in range(1, len(texts)):  # keep it monotonic, as a clock is
        doc, prev = json.loads(texts[i]), json.loads(texts[i - 1])
        if doc["event"] == "media" and prev["event"] == "media":
            ts = max(int(doc["media"]["timestamp"]), int(prev["media"]["timestamp"]))
            doc["media"]["timestamp"] = str(ts)
            texts[i] = json.dumps(doc)
    session, sink = feed(list[str | bytes](texts))
    assert failed_rules(sink) == {"WS-MEDIA-005"}
    assert session.checker.counts["WS-MEDIA-006"].checks == 500 + 2


def test_jittered_and_stalled_arrivals_do_not_move_the_clock_rule() -> None:
    """Arrival times are not its yardstick: a 2 s stall then a burst passes."""
    texts = clocked(lambda c: (c - 1) * 20, 500, "inbound_track")
    rng = random.Random(3)
    session, sink = StreamSession(0), MemorySink()
    now = 0
    for i, text in enumerate(texts):
        now += 2_000 * MS if i == 200 else max(0, int(rng.gauss(20, 5) * MS))
        session.receive(text, now, sink)
    session.close(now + MS, 1000, sink)
    assert failed_rules(sink) == set()
    assert session.checker.counts["WS-MEDIA-006"].checks == 502


def test_the_rate_windows_count_alike_on_both_paths() -> None:
    texts = clocked(lambda c: round((c - 1) * 20 * 1.001), 400, "both_tracks")
    _, fast = feed(list[str | bytes](texts))
    slow_session, slow = StreamSession(0), MemorySink()
    for i, text in enumerate(texts, start=1):
        slow_session._dispatch(slow_session._decoder.decode(text), i * 20 * MS, slow)
    slow_session.close((len(texts) + 1) * 20 * MS, 1000, slow)
    assert sorted(fast.rows["rule_checks"]) == sorted(slow.rows["rule_checks"])
    assert failed_rules(fast) == set()


def test_the_streams_row_says_what_start_announced() -> None:
    texts, exp = valid_stream("L16@16000h", "both_tracks", 2, 2)
    _, sink = feed(list[str | bytes](texts))
    (row,) = sink.rows["streams"]
    doc = dict(zip(columns("streams"), row, strict=True))
    assert doc["tracks"] == "inbound,outbound"
    assert doc["media_format"] == "audio/x-L16;16000;1"
    assert doc["correlation"] == exp.encode()
    assert doc["params"] == fingerprint([("p1", "v1"), ("p2", "v2"), (PARAM_NAME, "")])


def test_live_parameters_are_judged_in_order() -> None:
    texts, exp = valid_stream("PCMU", "inbound_track", 2, 2)
    doc = json.loads(texts[1])
    doc["start"]["customParameters"] = {
        "p2": "v2",
        "p1": "v1",
        PARAM_NAME: exp.encode(),
    }
    _, sink = feed([texts[0], json.dumps(doc), *texts[2:]])
    assert failed_rules(sink) == {"WS-START-003"}


def _at(texts: list[str], stop_ms: int) -> tuple[StreamSession, MemorySink]:
    """Feed connected and start at once, the rest 20 ms apart, stop at ``stop_ms``."""
    session, sink = StreamSession(0), MemorySink()
    for i, text in enumerate(texts[:-1]):
        session.receive(text, i * MS, sink)
    session.receive(texts[-1], stop_ms * MS, sink)
    session.close((stop_ms + 1) * MS, 1000, sink)
    return session, sink


def _without(texts: list[str], drop: Callable[[dict[str, object]], bool]) -> list[str]:
    """``texts`` less the messages ``drop`` picks, sequenceNumber renumbered."""
    kept = [d for d in map(json.loads, texts) if not drop(d)]
    for seq, doc in enumerate(kept[1:], start=1):
        doc["sequenceNumber"] = str(seq)
    return [json.dumps(d) for d in kept]


def _media_on(track: str) -> Callable[[dict[str, object]], bool]:
    def drop(doc: dict[str, object]) -> bool:
        media = doc.get("media")
        return isinstance(media, dict) and (track == "" or media["track"] == track)

    return drop


def test_a_stream_without_media_fails_the_carried_tracks_rule() -> None:
    texts, _ = valid_stream("PCMU", "inbound_track", 1, 50)
    session, sink = _at(_without(texts, _media_on("")), 1_000)
    assert failed_rules(sink) == {"WS-MEDIA-007"}
    (violation,) = [v for v in sink.rows["violations"] if v[1] == "WS-MEDIA-007"]
    assert violation[5] == "no media on inbound"
    assert "from start to stop" in str(violation[4])


def test_a_silent_track_of_two_fails_the_carried_tracks_rule() -> None:
    texts, _ = valid_stream("PCMU", "both_tracks", 1, 50)
    session, sink = _at(_without(texts, _media_on("outbound")), 1_000)
    assert failed_rules(sink) == {"WS-MEDIA-007"}
    assert session.checker.counts["WS-MEDIA-007"].checks == 1


def test_a_stream_stopped_before_media_was_due_is_not_judged() -> None:
    texts, _ = valid_stream("PCMU", "both_tracks", 1, 50)
    session, sink = _at(_without(texts, _media_on("")), 299)
    assert failed_rules(sink) == set()
    assert "WS-MEDIA-007" not in session.checker.counts


def test_media_on_unannounced_track_names_is_the_track_rule_s_finding_alone() -> None:
    texts, _ = valid_stream("PCMU", "inbound_track", 1, 50)
    docs = [json.loads(t) for t in texts]
    for doc in docs:
        if doc["event"] == "media":
            doc["media"]["track"] = "inbound_track"
    session, sink = _at([json.dumps(d) for d in docs], 1_000)
    assert failed_rules(sink) == {"WS-MEDIA-001"}
    assert "WS-MEDIA-007" not in session.checker.counts


def test_media_with_numeric_fields_still_carries_its_track() -> None:
    texts, _ = valid_stream("PCMU", "inbound_track", 1, 50)
    docs = [json.loads(t) for t in texts]
    for doc in docs:
        if doc["event"] == "media":
            doc["media"]["chunk"] = int(doc["media"]["chunk"])
    session, sink = _at([json.dumps(d) for d in docs], 1_000)
    assert "WS-MEDIA-007" not in failed_rules(sink)
    assert session.checker.counts["WS-MEDIA-007"].checks == 1


# -- hostile peers (issue 13, items 8 and 9) ----------------------------------


def _media(seq: int, track: str, chunk: int = 1, sid: str | None = None) -> str:
    doc: dict[str, object] = {
        "event": "media",
        "sequenceNumber": str(seq),
        "media": {"track": track, "chunk": str(chunk), "timestamp": "0", "payload": ""},
    }
    if sid is not None:
        doc["streamSid"] = sid
    return json.dumps(doc)


def _limit_failures(sink: MemorySink) -> list[str]:
    return [str(v[5]) for v in sink.rows["violations"] if v[1] == "WS-LIMIT-001"]


def test_a_clean_stream_passes_the_limits_once() -> None:
    texts, _ = valid_stream("PCMU", "both_tracks", 2, 5)
    session, sink = feed(list(texts))
    assert session.checker.counts["WS-LIMIT-001"].checks == 1
    assert "WS-LIMIT-001" not in failed_rules(sink)


def test_json_nested_5000_deep_is_a_violation_and_the_stream_goes_on() -> None:
    texts, _ = valid_stream("PCMU", "inbound_track", 0, 10)
    deep = '{"event":"media","media":' + "[" * 5000 + "]" * 5000 + "}"
    hostile = [*texts[:4], deep, "[" * 100_000, *texts[4:]]
    session, sink = feed(list(hostile))
    assert session.frames == 10  # nothing around the deep ones lost
    too_deep = [v for v in sink.rows["violations"] if v[1] == "WS-JSON-001"]
    assert len(too_deep) == 2 and all("nested too deep" in str(v[5]) for v in too_deep)


def test_a_new_long_track_name_in_every_message_is_counted_not_kept() -> None:
    texts, _ = valid_stream("PCMU", "inbound_track", 0, 20)
    stop = texts[-1]
    hostile = list(texts[:-1])
    seq = 22
    for i in range(60):  # 20 KB names, then short new ones past the track bound
        name = f"{i:04d}" + "x" * (20_000 if i < 30 else 4)
        hostile.append(_media(seq, name))
        seq += 1
    hostile.append(stop.replace('"sequenceNumber": "22"', f'"sequenceNumber": "{seq}"'))
    session, sink = feed(list(hostile))
    assert len(session.tracks) <= 1 + MAX_EXTRA_TRACKS
    rows = sink.rows["frames"]
    assert all(len(str(r[1])) <= MAX_KEY_CHARS for r in rows)
    assert sum(1 for r in rows if r[1] == "inbound") == 20  # the good track is whole
    assert len(rows) == 20 + MAX_EXTRA_TRACKS
    kept = [v for v in sink.rows["violations"] for field in v if len(str(field)) > 600]
    assert kept == []  # no evidence keeps a 20 KB name
    limits = _limit_failures(sink)
    assert len(limits) == 2  # once per kind: over-long names, too many tracks
    assert any("30 time(s)" in text and "(name)" in text for text in limits)
    assert any("(tracks)" in text for text in limits)
    (check,) = [r for r in sink.rows["rule_checks"] if r[2] == "WS-LIMIT-001"]
    assert (check[3], check[4]) == (2, 2)


def test_over_long_ids_and_too_many_parameters_are_cut_not_kept() -> None:
    long_sid = "s" * 10_000
    texts, _ = valid_stream("PCMU", "inbound_track", 2, 5, stream_sid=long_sid)
    start = json.loads(texts[1])
    params = start["start"]["customParameters"]
    start["start"]["customParameters"] = {
        **{f"n{i}": "v" for i in range(1_000)},
        "long": "v" * 50_000,
        **params,
    }
    hostile = [texts[0], json.dumps(start), *texts[2:]]
    hostile = [
        t.replace("}}", f'}}, "streamSid": "{long_sid}"}}', 1) if '"media"' in t else t
        for t in hostile
    ]
    session, sink = feed(list(hostile))
    assert len(session.stream_sid) <= MAX_KEY_CHARS
    assert {len(str(r[0])) for r in sink.rows["frames"]} == {len(session.stream_sid)}
    (stream,) = sink.rows["streams"]
    assert all(len(str(v)) < 20_000 for v in stream)  # the fingerprint is bounded
    assert session.frames == 5
    assert session.checker.counts["WS-SID-001"].checks >= 5
    assert "WS-SID-001" not in failed_rules(sink)  # compared with the sid as sent
    limits = _limit_failures(sink)
    assert any("(name)" in t for t in limits) and any(
        "(parameters)" in t for t in limits
    )
