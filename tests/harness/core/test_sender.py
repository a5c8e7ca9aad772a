"""The sans-I/O sender: exact bytes, counters over any schedule, one change per defect switch."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from hypothesis import given, settings, strategies as st

from harness.core.api import StartStreamRequest
from harness.core.codecs import CODEC_NAMES, FRAME_NS, get_codec
from harness.core.messages import DtmfBody, decoder, media_json
from harness.core.sender import (
    NAMES,
    Sender,
    WireDefects,
    payloads,
    with_wire,
)
from harness.platform.core.defects import DEFECTS
from harness.platform.core.dialect import DIALECTS


PARAMS = (("a", "1"), ("b", "2"), ("c", "3"), ("streamload", "v1;req=r1"))


def make(
    dialect: str = "signalwire",
    track: str = "both_tracks",
    codec: str = "PCMU",
    parameters: tuple[tuple[str, str], ...] = PARAMS,
    switches: WireDefects | None = None,
    **defects: bool,
) -> Sender:
    request = StartStreamRequest(
        url="wss://x/", track=track, codec=codec, parameters=parameters
    )
    return Sender(
        "MZ0123",
        "CA1",
        "AC1",
        request,
        DIALECTS[dialect],
        defects=switches or WireDefects(**defects),
        other_sid="MZother",
    )


# -- byte for byte what the streamer sent before the sender existed ------------

P0 = payloads("PCMU", "big", "inbound")[0]
P1 = payloads("PCMU", "big", "outbound")[0]
GOLDEN = {
    "signalwire": [
        '{"event":"connected","protocol":"Call","version":"0.2.0"}',
        '{"event":"start","sequenceNumber":"1","start":{"streamSid":"MZ0123","accountSid":"AC1","callSid":"CA1","tracks":["inbound","outbound"],"customParameters":{"a":"1","streamload":"v1;req=r1"},"mediaFormat":{"encoding":"audio/x-mulaw","sampleRate":8000,"channels":1}}}',
        '{"event":"media","sequenceNumber":"2","media":{"track":"inbound","chunk":"1","timestamp":"0","payload":"<P0>"}}',
        '{"event":"media","sequenceNumber":"3","media":{"track":"outbound","chunk":"1","timestamp":"0","payload":"<P1>"}}',
        b'{"event":"mark","mark":{"name":"m1"},"streamSid":"MZ0123"}',
        b'{"event":"dtmf","dtmf":{"digit":"5","duration":100},"sequenceNumber":"4","streamSid":"MZ0123"}',
        '{"event":"stop","sequenceNumber":"5"}',
    ],
    "twilio": [
        '{"event":"connected","protocol":"Call","version":"1.0.0"}',
        '{"event":"start","sequenceNumber":"1","start":{"streamSid":"MZ0123","accountSid":"AC1","callSid":"CA1","tracks":["inbound","outbound"],"customParameters":{"a":"1","streamload":"v1;req=r1"},"mediaFormat":{"encoding":"audio/x-mulaw","sampleRate":8000,"channels":1}},"streamSid":"MZ0123"}',
        '{"event":"media","sequenceNumber":"2","media":{"track":"inbound","chunk":"1","timestamp":"0","payload":"<P0>"},"streamSid":"MZ0123"}',
        '{"event":"media","sequenceNumber":"3","media":{"track":"outbound","chunk":"1","timestamp":"0","payload":"<P1>"},"streamSid":"MZ0123"}',
        b'{"event":"mark","mark":{"name":"m1"},"sequenceNumber":"4","streamSid":"MZ0123"}',
        b'{"event":"dtmf","dtmf":{"digit":"5","track":"inbound_track"},"sequenceNumber":"5","streamSid":"MZ0123"}',
        '{"event":"stop","sequenceNumber":"6","stop":{"accountSid":"AC1","callSid":"CA1"},"streamSid":"MZ0123"}',
    ],
}  # fmt: skip
"""Recorded from harness/platform/streamer.py before the sender was split out of it."""


@pytest.mark.parametrize("dialect", sorted(GOLDEN))
def test_messages_are_byte_identical_to_the_streamers(dialect: str) -> None:
    sender = make(dialect, parameters=(("a", "1"), ("streamload", "v1;req=r1")))
    out: list[str | bytes] = [sender.connected(), sender.start()]
    out += [message for message, _ in sender.media(20_000_000, 20_000_123)]
    out += [sender.mark("m1"), sender.dtmf(DtmfBody(digit="5", duration=100))]
    out += sender.closing()
    golden = [
        g.replace("<P0>", P0).replace("<P1>", P1) if isinstance(g, str) else g
        for g in GOLDEN[dialect]
    ]
    assert out == golden
    assert [type(m) for m in out] == [type(g) for g in golden]  # str: a text frame


def test_send_log_rows_come_from_the_senders_state() -> None:
    sender = make(track="both_tracks", codec="L16@16000h")
    sender.start()
    frames = sender.media(40_000_000, 40_000_500)
    assert [row for _, row in frames] == [
        ("MZ0123", "inbound", 1, 2, 40_000_000, 40_000_500, 640, 40_000_500),
        ("MZ0123", "outbound", 1, 3, 40_000_000, 40_000_500, 640, 40_000_500),
    ]
    row = frames[0][1]
    assert with_wire(row, 0) == (*row[:7], 0)  # lost in the emulated network
    assert with_wire(row, 9) == (*row[:7], 9)


@pytest.mark.parametrize("dialect", sorted(DIALECTS))
@pytest.mark.parametrize("track", ["inbound_track", "outbound_track", "both_tracks"])
@pytest.mark.parametrize(
    "switches",
    [
        WireDefects(),
        WireDefects(payload_size=True),
        WireDefects(stream_sid_mismatch=True),
    ],
)
def test_media_wire_is_the_old_str_builder_encoded(
    dialect: str, track: str, switches: WireDefects
) -> None:
    """The hot path's bytes (:meth:`Sender.media_wire`; the platform's lane fills
    the same templates, tests/harness/platform/test_lane.py) are what
    :func:`media_json` built for the same chunk, byte for byte and as JSON."""
    wire, old = (
        make(dialect, track, codec="L16@16000h", switches=switches) for _ in range(2)
    )
    for s in (wire, old):
        s.start()
    for _ in range(120):  # past the 50-frame test-signal cycle
        seq, chunk = old.seq, old.chunk + 1
        expected = []
        for i, name in enumerate(old.track_names):
            frames = payloads("L16@16000h", "big", name, switches.payload_size)
            expected.append(
                media_json(
                    seq + 1 + i,
                    name,
                    chunk,
                    (chunk - 1) * 20,
                    frames[(chunk - 1) % 50],
                    old.top_sid,
                ).encode()
            )
        assert [m.encode() for m, _ in old.media(0, 0)] == expected
        got = wire.media_wire()
        assert got == expected
        assert [json.loads(m) for m in got] == [json.loads(m) for m in expected]
    assert (old.seq, old.chunk) == (wire.seq, wire.chunk)


# -- the counters over any schedule -------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    dialect=st.sampled_from(sorted(DIALECTS)),
    track=st.sampled_from(["inbound_track", "outbound_track", "both_tracks"]),
    codec=st.sampled_from(CODEC_NAMES),
    schedule=st.lists(
        st.tuples(st.integers(0, 10**12), st.integers(0, 10**9)),
        min_size=1,
        max_size=60,
    ),
    marks=st.sets(st.integers(0, 59), max_size=5),
)
def test_counters_over_any_schedule(
    dialect: str,
    track: str,
    codec: str,
    schedule: list[tuple[int, int]],
    marks: set[int],
) -> None:
    """sequenceNumber is consecutive from 1 over every numbered message, chunk counts
    per track, the timestamp advances 20 ms a chunk, whatever the due and sent times."""
    sender = make(dialect, track=track, codec=codec)
    dec = decoder()
    sent: list[Any] = [dec.decode(sender.connected()), dec.decode(sender.start())]
    tracks = sender.track_names
    payload_bytes = get_codec(codec).frame_bytes
    marked = 0
    for k, (due, late) in enumerate(schedule, start=1):
        frames = sender.media(due, due + late)
        assert len(frames) == len(tracks)
        for (message, row), name in zip(frames, tracks, strict=True):
            media: Any = dec.decode(message)
            sent.append(media)
            body = media.media
            assert (body.track, body.chunk, body.timestamp) == (
                name,
                str(k),
                str((k - 1) * 20),
            )
            assert body.payload == payloads(codec, "big", name)[(k - 1) % 50]
            assert row == (
                "MZ0123",
                name,
                k,
                int(media.sequence_number),
                due,
                due + late,
                payload_bytes,
                due + late,
            )
        assert sender.chunk == k
        if k in marks:
            sent.append(dec.decode(sender.mark(f"m{k}")))
            marked += 1
    sent += [dec.decode(m) for m in sender.closing()]
    numbered = [int(m.sequence_number) for m in sent[1:] if m.sequence_number]
    assert numbered == list(range(1, len(numbered) + 1))
    assert numbered[-1] == sender.seq
    twilio = DIALECTS[dialect].stop_body
    assert len(numbered) == len(sent) - 1 - (0 if twilio else marked)


def test_the_payloads_cycle_every_second() -> None:
    sender = make(track="inbound_track")
    first = [m for _ in range(51) for m, _ in sender.media(0, 0)]
    assert json.loads(first[50])["media"]["payload"] == P0
    assert json.loads(first[49])["media"]["payload"] != P0


def test_stream_sid_mismatch_needs_the_other_sid() -> None:
    request = StartStreamRequest(url="wss://x/")
    with pytest.raises(ValueError, match="other_sid"):
        Sender(
            "MZ1",
            "CA1",
            "AC1",
            request,
            DIALECTS["signalwire"],
            defects=WireDefects(stream_sid_mismatch=True),
        )


# -- each defect switch changes exactly its documented thing -------------------


def test_the_switches_are_exactly_the_ws_defects() -> None:
    assert {n for n, d in DEFECTS.items() if d.area == "ws"} == NAMES
    every = WireDefects.from_names(DEFECTS)  # REST and callback names are ignored
    assert every.names == NAMES
    assert WireDefects.from_names(["version"]) == WireDefects(version=True)
    assert WireDefects().names == frozenset()


Run = dict[str, Any]


def run(sender: Sender, chunks: int = 120) -> Run:
    """Everything one stream sends, parsed, by message kind."""
    out: Run = {
        "connected": json.loads(sender.connected()),
        "start": json.loads(sender.start()),
    }
    out["media"] = [
        json.loads(m) for _ in range(chunks) for m, _ in sender.media(FRAME_NS, 0)
    ]
    out["closing"] = [json.loads(m) for m in sender.closing()]
    return out


def _media_field(run: Run, path: tuple[str, ...]) -> list[Any]:
    values = []
    for m in run["media"]:
        for key in path:
            m = m[key]
        values.append(m)
    return values


def _changed(plain: Run, bent: Run) -> set[str]:
    """Which parts differ: message kinds, and for media the fields."""
    changed = {  # as text: the order of customParameters counts
        k
        for k in ("connected", "start", "closing")
        if json.dumps(plain[k]) != json.dumps(bent[k])
    }
    if len(plain["media"]) != len(bent["media"]):
        changed.add("media")
    else:
        for a, b in zip(plain["media"], bent["media"], strict=True):
            changed |= {f"media.{k}" for k in a if a[k] != b.get(k)}
            changed |= {
                f"media.media.{k}" for k in a["media"] if a["media"][k] != b["media"][k]
            }
            changed |= {f"media.{k}" for k in b if k not in a}
    return changed


EXPECTED: dict[str, set[str]] = {
    "chunk_global": {"media.media.chunk", "media.media"},
    "numeric_fields": {"media.sequenceNumber", "media.media.chunk", "media.media.timestamp", "media.media"},
    "payload_size": {"media.media.payload", "media.media"},
    "media_format": {"start"},
    "custom_parameters": {"start"},
    "drop_correlation": {"start"},
    "alter_correlation": {"start"},
    "extra_parameter": {"start"},
    "rename_parameter": {"start"},
    "reorder_parameters": {"start"},
    "timestamp_fast": {"media.media.timestamp", "media.media"},
    "missing_stop": {"closing"},
    "seq_skip": {"media.sequenceNumber", "closing"},
    "timestamp_drift": {"media.media.timestamp", "media.media"},
    "wrong_tracks": {"start"},
    "stream_sid_mismatch": {"start", "media.streamSid", "closing"},
    "bearer_missing": set(),  # the upgrade's headers: the streamer's, not a message
    "version": {"connected"},
    "message_after_stop": {"closing"},
}  # fmt: skip


@pytest.mark.parametrize("flag", [f.name for f in dataclasses.fields(WireDefects)])
def test_each_switch_changes_only_its_part(flag: str) -> None:
    assert set(EXPECTED) == {f.name for f in dataclasses.fields(WireDefects)}
    plain = run(make("twilio"))
    bent = run(make("twilio", switches=WireDefects(**{flag: True})))
    assert _changed(plain, bent) == EXPECTED[flag]


def test_what_each_switch_does() -> None:
    both = run(make(chunk_global=True))
    assert _media_field(both, ("media", "chunk"))[:4] == ["1", "2", "3", "4"]
    numeric = run(make(numeric_fields=True))["media"][2]
    assert (numeric["sequenceNumber"], numeric["media"]["chunk"]) == (4, 2)
    assert numeric["media"]["timestamp"] == 20
    short = run(make(payload_size=True), chunks=1)["media"][0]["media"]["payload"]
    frame = payloads("PCMU", "big", "inbound", short=True)[0]
    assert short == frame and len(frame) < len(P0)
    start = run(make(media_format=True))["start"]["start"]
    assert start["mediaFormat"]["sampleRate"] == 16000
    fast = _media_field(run(make(timestamp_fast=True)), ("media", "timestamp"))
    assert fast[::2][:3] == ["0", "30", "60"]
    drift = _media_field(run(make(timestamp_drift=True)), ("media", "timestamp"))
    assert drift[::2][:3] == ["101", "122", "143"]
    skip = [int(m["sequenceNumber"]) for m in run(make(seq_skip=True))["media"]]
    assert 100 not in skip and 200 not in skip and skip[97:99] == [99, 101]
    assert run(make(wrong_tracks=True))["start"]["start"]["tracks"] == ["inbound"]
    mismatch = run(make("twilio", stream_sid_mismatch=True))
    assert mismatch["start"]["streamSid"] == "MZother"
    assert mismatch["start"]["start"]["streamSid"] == "MZ0123"
    assert run(make(version=True))["connected"]["version"] == "9.9.9"
    assert run(make(missing_stop=True))["closing"] == []
    stop, after = run(make(message_after_stop=True), chunks=3)["closing"]
    assert (stop["event"], after["event"]) == ("stop", "media")
    assert (after["sequenceNumber"], after["media"]["chunk"]) == ("9", "4")


@pytest.mark.parametrize(
    ("flag", "parameters"),
    [
        ("custom_parameters", {"a": "1-altered", "b": "2", "c": "3", "streamload": "v1;req=r1"}),
        ("drop_correlation", {"a": "1", "b": "2", "c": "3"}),
        ("alter_correlation", {"a": "1", "b": "2", "c": "3", "streamload": "v1;req=forged-r1"}),
        ("extra_parameter", {"a": "1", "b": "2", "c": "3", "streamload-extra": "added", "streamload": "v1;req=r1"}),
        ("rename_parameter", {"a-renamed": "1", "b": "2", "c": "3", "streamload": "v1;req=r1"}),
        ("reorder_parameters", {"b": "2", "a": "1", "c": "3", "streamload": "v1;req=r1"}),
    ],
)  # fmt: skip
def test_parameter_switches(flag: str, parameters: dict[str, str]) -> None:
    got = run(make(switches=WireDefects(**{flag: True})), chunks=0)["start"]["start"][
        "customParameters"
    ]
    assert list(got.items()) == list(parameters.items())


def test_custom_parameters_adds_one_when_only_streamloads_was_sent() -> None:
    sender = make(parameters=(("streamload", "v1"),), custom_parameters=True)
    got = json.loads(sender.start())["start"]["customParameters"]
    assert got == {"streamload": "v1", "streamload-extra": "added"}


_PARAMETER_FLAGS = (
    "drop_correlation",
    "alter_correlation",
    "extra_parameter",
    "rename_parameter",
    "reorder_parameters",
)


@given(
    names=st.lists(st.text("abcxyz", min_size=1, max_size=3), unique=True, max_size=4),
    correlation=st.booleans(),
    flags=st.sets(st.sampled_from(_PARAMETER_FLAGS)),
)
@settings(max_examples=200, deadline=None)
def test_parameter_switches_combine_on_any_parameters(
    names: list[str], correlation: bool, flags: set[str]
) -> None:
    """Any mix of the parameter defects on any parameters builds a start.

    drop-correlation with rename-parameter on a stream whose last parameter
    was a user's once indexed past the end of the list (IndexError).
    """
    sent = tuple((n, f"v{i}") for i, n in enumerate(names))
    if correlation:
        sent += (("streamload", "v1;req=r1"),)
    sender = make(parameters=sent, switches=WireDefects(**dict.fromkeys(flags, True)))
    got = json.loads(sender.start())["start"].get("customParameters", {})
    kept = sent[:-1] if "drop_correlation" in flags and sent else sent
    # every parameter kept arrives once, under its name or a renamed one
    assert len(got) == len(kept) + ("extra_parameter" in flags)
    if "drop_correlation" in flags and sent:
        assert sent[-1][0] not in got
