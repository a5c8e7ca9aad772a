"""Messages against the vendors' verbatim examples (tests/data/spec/ws-messages.examples.json)."""

from __future__ import annotations

import json

import msgspec
import pytest
from hypothesis import given, settings, strategies as st

from harness.core import messages as m
from tests.conftest import data_file


EXAMPLES = json.loads(data_file("spec/ws-messages.examples.json").read_text())


def _examples(direction_prefix: str) -> list[tuple[str, str, dict[str, object]]]:
    out = []
    for dialect in ("signalwire", "twilio"):
        for direction, msgs in EXAMPLES[dialect].items():
            if direction.startswith(direction_prefix) and isinstance(msgs, dict):
                out += [
                    (dialect, k, v) for k, v in msgs.items() if not k.startswith("_")
                ]
    return out


@pytest.mark.parametrize(
    ("dialect", "kind", "example"), _examples("platform_to_server")
)
def test_every_platform_example_decodes_to_its_event(dialect, kind, example) -> None:
    message = m.decoder().decode(json.dumps(example))
    assert type(message).__struct_config__.tag == example["event"]


@pytest.mark.parametrize(
    ("dialect", "kind", "example"), _examples("server_to_platform")
)
def test_every_receiver_example_decodes_as_a_reply(dialect, kind, example) -> None:
    message = m.reply_decoder().decode(json.dumps(example))
    assert type(message).__struct_config__.tag == example["event"]


def test_media_json_is_the_documented_shape() -> None:
    text = m.media_json(42, "inbound", 1, 0, "AAAA")
    assert json.loads(text) == {
        "event": "media",
        "sequenceNumber": "42",
        "media": {
            "track": "inbound",
            "chunk": "1",
            "timestamp": "0",
            "payload": "AAAA",
        },
    }
    with_sid = m.decoder().decode(m.media_json(3, "outbound", 2, 20, "AAAA", "MZ1"))
    assert isinstance(with_sid, m.Media) and with_sid.stream_sid == "MZ1"


@settings(max_examples=200, deadline=None)
@given(
    seq=st.integers(0, 2**40),
    track=st.text("abcdefghijklmnopqrstuvwxyz_%", min_size=1, max_size=12),
    chunk=st.integers(0, 2**40),
    timestamp=st.integers(0, 2**40),
    payload=st.text(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=%"
    ),
    sid=st.one_of(st.none(), st.text("0123456789abcdefMZ-%", max_size=40)),
)
def test_media_template_formats_as_media_json(
    seq: int, track: str, chunk: int, timestamp: int, payload: str, sid: str | None
) -> None:
    filled = m.media_template(track, sid) % (seq, chunk, timestamp, payload)
    assert filled == m.media_json(seq, track, chunk, timestamp, payload, sid)


def test_numeric_sequence_number_is_a_type_error_with_its_path() -> None:
    with pytest.raises(msgspec.ValidationError, match=r"\$\.sequenceNumber"):
        m.decoder().decode('{"event":"stop","sequenceNumber":5}')


def test_encode_roundtrips() -> None:
    start = m.decoder().decode(
        json.dumps(EXAMPLES["signalwire"]["platform_to_server"]["start"])
    )
    assert m.decoder().decode(m.encode(start)) == start


def test_decoded_messages_are_untracked_by_the_garbage_collector() -> None:
    """harness.io.runtime: tens of thousands a second must not feed the collector."""
    import gc

    import msgspec

    from harness.core.messages import Media, Start

    raw = (
        '{"event":"media","sequenceNumber":"3","media":{"track":"inbound",'
        '"chunk":"1","timestamp":"0","payload":"AAAA"},"streamSid":"s"}'
    )
    media = msgspec.json.decode(raw, type=Media)
    assert not gc.is_tracked(media) and not gc.is_tracked(media.media)
    start = msgspec.json.decode(
        '{"event":"start","sequenceNumber":"1","start":{"streamSid":"s",'
        '"accountSid":"a","callSid":"c","tracks":["inbound"],'
        '"customParameters":{"k":"v"},"mediaFormat":{"encoding":"audio/x-mulaw",'
        '"sampleRate":8000,"channels":1}},"streamSid":"s"}',
        type=Start,
    )
    assert not gc.is_tracked(start) and not gc.is_tracked(start.start)
