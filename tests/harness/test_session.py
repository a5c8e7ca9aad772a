"""The receiver-side session: valid streams pass, every single mutation is caught, nothing raises."""

from __future__ import annotations

import json

from hypothesis import given, settings, strategies as st

from harness.api import TRACKS
from harness.codecs import CODEC_NAMES
from harness.records import MemorySink, columns
from harness.session import StreamSession
from harness.transitions import State
from tests.streams import valid_stream


MS = 1_000_000


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


@settings(max_examples=40, deadline=None)
@given(
    st.sampled_from(CODEC_NAMES),
    st.sampled_from(TRACKS),
    st.sampled_from([0, 1, 10, 98]),
    st.integers(1, 12),
)
def test_any_valid_stream_passes_every_rule(codec, track, n_params, chunks) -> None:
    texts, exp = valid_stream(codec, track, n_params, chunks)
    session, sink = feed(list(texts))
    assert failed_rules(sink) == set()
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
        elif how == "resize":
            body["payload"] = body["payload"][:-4]
        elif how == "rename":
            body["chunks"] = body.pop("chunk")
        t = list(texts)
        t[i] = json.dumps(doc)
        return f"{how} {i}", t

    return st.one_of(
        st.integers(0, n - 1).map(drop),
        st.integers(0, n - 1).map(duplicate),
        st.integers(0, n - 2).map(swap),
        st.tuples(st.integers(1, n - 1), st.just("retype")).map(lambda a: edit(*a)),
        st.tuples(st.sampled_from(media), st.sampled_from(["resize", "rename"])).map(
            lambda a: edit(*a)
        ),
    )


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_every_single_mutation_is_reported(data) -> None:
    texts, _ = valid_stream(
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


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.binary(max_size=50) | st.text(max_size=50) | json_values.map(json.dumps),
        max_size=8,
    )
)
def test_arbitrary_input_never_raises(inputs) -> None:
    texts, _ = valid_stream(chunks=1)
    session, sink = feed([*texts[:2], *inputs])
    assert session.frames == len(sink.rows["frames"])


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


def test_bearer_outcome_is_a_rule() -> None:
    session, sink = StreamSession(0, bearer_ok=False), MemorySink()
    session.close(1, None, sink)
    assert "WS-HANDSHAKE-001" in failed_rules(sink)


def test_close_is_idempotent() -> None:
    texts, _ = valid_stream(chunks=1)
    session, sink = feed(list(texts))
    session.close(10**12, 1000, sink)
    assert len(sink.rows["streams"]) == 1
