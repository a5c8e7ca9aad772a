"""The WebSocket messages of a media stream, as typed structs (contract §5.2-§5.4).

Decoding is strict about JSON types (``sequenceNumber`` must be a string, as in
every vendor example), so a retyped field surfaces as a decode error that the
session turns into a violation. Wire names stay camelCase on the wire only.
"""

from __future__ import annotations

from typing import Final

import msgspec
from msgspec import UNSET, UnsetType


__all__ = [
    "Clear",
    "Connected",
    "Dtmf",
    "DtmfBody",
    "Mark",
    "MarkBody",
    "Media",
    "MediaBody",
    "MediaFormat",
    "Message",
    "Reply",
    "ReplyMedia",
    "ReplyMediaBody",
    "Start",
    "StartBody",
    "Stop",
    "StopBody",
    "decoder",
    "encode",
    "media_json",
    "media_template",
    "reply_decoder",
]


class _Wire(msgspec.Struct, frozen=True, kw_only=True, rename="camel", gc=False):
    """Untracked by the garbage collector (``gc=False``): trees of strings and
    numbers cannot form cycles, and a receiver decodes tens of thousands a
    second; tracked, they alone would trigger a young collection every few
    hundred messages (:mod:`harness.io.runtime`)."""


class _Event(_Wire, frozen=True, kw_only=True, tag_field="event", rename="camel"):
    pass


class Connected(_Event, frozen=True, kw_only=True, tag="connected"):
    """First message; has no ``sequenceNumber`` (contract §5.2)."""

    protocol: str
    version: str


class MediaFormat(_Wire, frozen=True, kw_only=True):
    encoding: str
    sample_rate: int
    channels: int


class StartBody(_Wire, frozen=True, kw_only=True):
    stream_sid: str
    account_sid: str
    call_sid: str | UnsetType = UNSET
    tracks: list[str]
    custom_parameters: dict[str, str] | UnsetType = UNSET
    media_format: MediaFormat


class Start(_Event, frozen=True, kw_only=True, tag="start"):
    sequence_number: str
    start: StartBody
    stream_sid: str | UnsetType = UNSET
    """Top-level ``streamSid``: Twilio sends it, SignalWire's examples omit it (contract §10)."""


class MediaBody(_Wire, frozen=True, kw_only=True):
    track: str
    chunk: str
    timestamp: str
    payload: str


class Media(_Event, frozen=True, kw_only=True, tag="media"):
    sequence_number: str
    media: MediaBody
    stream_sid: str | UnsetType = UNSET


class StopBody(_Wire, frozen=True, kw_only=True):
    account_sid: str | UnsetType = UNSET
    call_sid: str | UnsetType = UNSET


class Stop(_Event, frozen=True, kw_only=True, tag="stop"):
    sequence_number: str
    stop: StopBody | UnsetType = UNSET
    stream_sid: str | UnsetType = UNSET


class DtmfBody(_Wire, frozen=True, kw_only=True):
    digit: str
    duration: int | UnsetType = UNSET
    track: str | UnsetType = UNSET


class Dtmf(_Event, frozen=True, kw_only=True, tag="dtmf"):
    dtmf: DtmfBody
    sequence_number: str | UnsetType = UNSET
    stream_sid: str | UnsetType = UNSET


class MarkBody(_Wire, frozen=True, kw_only=True):
    name: str


class Mark(_Event, frozen=True, kw_only=True, tag="mark"):
    mark: MarkBody
    sequence_number: str | UnsetType = UNSET
    stream_sid: str | UnsetType = UNSET


class Clear(_Event, frozen=True, kw_only=True, tag="clear"):
    """Receiver to platform only, bidirectional streams (contract §5.3)."""

    stream_sid: str


class ReplyMediaBody(_Wire, frozen=True, kw_only=True):
    payload: str


class ReplyMedia(_Event, frozen=True, kw_only=True, tag="media"):
    """Audio a bidirectional receiver plays back into the stream (contract §5.3)."""

    stream_sid: str
    media: ReplyMediaBody


Message = Connected | Start | Media | Stop | Dtmf | Mark
"""Any message the platform sends to the receiver, told apart by ``event``."""

Reply = ReplyMedia | Mark | Clear | Dtmf
"""Any message a bidirectional receiver sends back to the platform."""

_ENCODER: Final = msgspec.json.Encoder()


def decoder() -> msgspec.json.Decoder[Message]:
    """Return a decoder for any message; make one per connection and reuse it."""
    return msgspec.json.Decoder(Message)


def reply_decoder() -> msgspec.json.Decoder[Reply]:
    """Return a decoder for receiver-to-platform messages (platform side)."""
    return msgspec.json.Decoder(Reply)


def encode(message: Message | Reply) -> bytes:
    """Encode a message as compact JSON (for the non-media messages)."""
    return _ENCODER.encode(message)


_MEDIA = (
    '{"event":"media","sequenceNumber":"%d","media":{"track":"%s","chunk":"%d",'
    '"timestamp":"%d","payload":"%s"}}'
)
_MEDIA_WITH_SID = (
    '{"event":"media","sequenceNumber":"%d","media":{"track":"%s","chunk":"%d",'
    '"timestamp":"%d","payload":"%s"},"streamSid":"%s"}'
)


def media_json(
    seq: int,
    track: str,
    chunk: int,
    timestamp_ms: int,
    payload_b64: str,
    stream_sid: str | None = None,
) -> str:
    """Format one ``media`` message, the sender's hot path (no dict, no encoder)."""
    if stream_sid is None:
        return _MEDIA % (seq, track, chunk, timestamp_ms, payload_b64)
    return _MEDIA_WITH_SID % (seq, track, chunk, timestamp_ms, payload_b64, stream_sid)


def media_template(track: str, stream_sid: str | None = None) -> str:
    """:func:`media_json`'s format with ``track`` and ``stream_sid`` filled in.

    ``media_template(track, sid) % (seq, chunk, timestamp_ms, payload_b64)`` is
    ``media_json(seq, track, chunk, timestamp_ms, payload_b64, sid)``, one
    substitution cheaper: a sender makes it once per track of a stream.
    """
    track = track.replace("%", "%%")
    if stream_sid is None:
        return _MEDIA.replace('"track":"%s"', f'"track":"{track}"', 1)
    sid = stream_sid.replace("%", "%%")
    return _MEDIA_WITH_SID.replace('"track":"%s"', f'"track":"{track}"', 1).replace(
        '"streamSid":"%s"', f'"streamSid":"{sid}"', 1
    )
