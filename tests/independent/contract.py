"""The contract as this second platform reads it: pure data and functions, no I/O.

Everything here is written from the vendors' public documents (see the package
docstring), not from streamload's code: codecs and frame sizes, the WebSocket
messages, the REST answers and errors, request validation, the status
callback's parameters and signature, and the defect switches.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import email.utils
import hashlib
import hmac
import json
import math
import re
import uuid
from collections.abc import Mapping, Sequence
from typing import Final


FRAME_MS: Final = 20
"""One media message per 20 ms per track (SWML ``tap.rtp_ptime`` default 20)."""
MAX_PARAMETERS: Final = 99
"""``Parameter1.Name`` .. ``Parameter99.Name``: up to 99 custom parameters."""
TRACKS: Final[dict[str, tuple[str, ...]]] = {
    "inbound_track": ("inbound",),
    "outbound_track": ("outbound",),
    "both_tracks": ("inbound", "outbound"),
}
"""REST ``Track`` value -> ``start.tracks`` / ``media.track`` names."""
DEFAULT_TRACK: Final = "both_tracks"
"""The REST create's documented default (the cXML verb's is inbound_track)."""
MORE_INFO: Final = "https://signalwire.com/docs/compatibility-api/reference/errors"


@dataclasses.dataclass(frozen=True, slots=True)
class Codec:
    """A REST ``StreamCodec`` value and what goes on the wire for it."""

    name: str
    encoding: str
    rate: int
    bytes_per_sample: int

    @property
    def frame_bytes(self) -> int:
        return self.rate * FRAME_MS // 1000 * self.bytes_per_sample


CODECS: Final[dict[str, Codec]] = {
    c.name: c
    for c in (
        Codec("PCMU", "audio/x-mulaw", 8000, 1),
        # PCMA's encoding name is not documented; audio/x-alaw follows x-mulaw
        Codec("PCMA", "audio/x-alaw", 8000, 1),
        # bare L16: 8 kHz assumed (undocumented), 16-bit big-endian (RFC 3551)
        Codec("L16", "audio/x-L16", 8000, 2),
        Codec("L16@16000h", "audio/x-L16", 16000, 2),
        Codec("L16@24000h", "audio/x-L16", 24000, 2),
    )
}
DEFAULT_CODEC: Final = "PCMU"
"""cXML ``codec`` default ``PCMU@8000h``."""


@dataclasses.dataclass(frozen=True, slots=True)
class DefectSpec:
    description: str
    rules: tuple[str, ...]
    """The streamload rule ids this breach must trip (harness/core/rules.py, read not imported)."""


DEFECTS: Final[dict[str, DefectSpec]] = {
    # REST
    "accept-ws-url": DefectSpec("a ws:// Url is accepted with 200 instead of refused", ("REST-REJECT-001",)),
    "create-201": DefectSpec("create answers HTTP 201 (Twilio's code until 2024) instead of 200", ("REST-CREATE-001",)),
    "date-unix": DefectSpec("date_updated is epoch seconds, not an RFC 2822 date", ("REST-CREATE-004",)),
    "uri-relative": DefectSpec("uri is 'Streams/{sid}.json', not the stream's full path", ("REST-CREATE-005",)),
    "name-sid-when-absent": DefectSpec("name is the stream sid instead of null when no Name was sent", ("REST-CREATE-006",)),
    "stop-by-name-404": DefectSpec("stopping by Name answers 404 (only the sid is looked up)", ("REST-STOP-001",)),
    "error-shape-404": DefectSpec("a 404 body lacks code and more_info", ("REST-ERROR-001",)),
    # WebSocket
    "start-account-other": DefectSpec("start.accountSid is another account's (a fresh UUID)", ("WS-START-006",)),
    "start-sid-other": DefectSpec("start.streamSid is not the sid the create answer gave", ("WS-START-005",)),
    "start-twice": DefectSpec("start is sent twice", ("WS-ORDER-001",)),
    "track-name-long": DefectSpec('media.track is "inbound_track"/"outbound_track", the REST names', ("WS-MEDIA-001",)),
    "no-media": DefectSpec("connected, start and stop, but not one media message", ("WS-MEDIA-007",)),
    "stop-status-in-progress": DefectSpec('the stop answer says status "in-progress"', ("REST-STOP-001",)),
    "connected-missing": DefectSpec("the stream begins with start: no connected message", ("WS-ORDER-001",)),
    "timestamp-backwards": DefectSpec("media.timestamp steps back 40 ms on frame 11, 36, 61, ...", ("WS-MEDIA-004",)),
    "callsid-not-uuid": DefectSpec("start.callSid is 'CA' + 32 hex (Twilio's form) in the SignalWire dialect", ("WS-DIALECT-001",)),
    "one-track-of-two": DefectSpec("both_tracks streams announce both tracks but send only inbound media", ("WS-MEDIA-007",)),
    "content-type-text": DefectSpec("REST answers say Content-Type text/plain, not application/json", ("REST-CREATE-008",)),
    "bearer-missing": DefectSpec("the upgrade carries no Authorization header", ("WS-HANDSHAKE-001",)),
    "drop-last-param": DefectSpec("the last custom parameter is missing from start.customParameters", ("WS-START-003",)),
    "param-altered": DefectSpec("the first custom parameter's value gets an 'x' appended", ("WS-START-003",)),
    "param-extra": DefectSpec("start.customParameters has one parameter more than was sent", ("WS-START-003",)),
    "params-reordered": DefectSpec("the first two custom parameters change places in start.customParameters", ("WS-START-003",)),
    "tracks-swapped": DefectSpec("start.tracks says outbound for inbound_track and inbound for outbound_track", ("WS-START-002",)),
    "channels-2": DefectSpec("start.mediaFormat.channels is 2", ("WS-START-001",)),
    "chunk-zero": DefectSpec('media.chunk starts at "0"', ("WS-MEDIA-002",)),
    "seq-repeat": DefectSpec("every 20th message repeats the previous sequenceNumber", ("WS-SEQ-001",)),
    "numeric-timestamp": DefectSpec("media.timestamp is a JSON number", ("WS-JSON-002",)),
    "payload-half": DefectSpec("each media payload holds 10 ms of audio, not 20 ms", ("WS-MEDIA-003",)),
    "timestamp-fast": DefectSpec("media.timestamp advances 30 ms per 20 ms frame", ("WS-MEDIA-006",)),
    "media-sid-other": DefectSpec("media messages carry a top-level streamSid unlike start.streamSid", ("WS-SID-001",)),
    "no-stop": DefectSpec("the socket is closed without a stop message", ("WS-STOP-001",)),
    "message-after-stop": DefectSpec("one media message follows stop", ("WS-STOP-002",)),
    # status callbacks
    "callback-unsigned": DefectSpec("callbacks carry no X-SignalWire-Signature", ("CB-004",)),
    "callback-signature-unsorted": DefectSpec("the signature covers the POST parameters in sent order, not sorted", ("CB-004",)),
    "callback-timestamp-rfc2822": DefectSpec("the callback Timestamp is RFC 2822, not ISO 8601", ("CB-002",)),
}  # fmt: skip


GLOBAL_DEFECTS: Final = frozenset({"accept-ws-url", "error-shape-404"})
"""Defects of the platform as a whole (its refusals); every other one is per stream."""


def eligible(defect: str, request: CreateRequest) -> bool:
    """Whether ``defect`` can show on a stream made by ``request``.

    ``--spread`` hands each new stream to one eligible defect, so a stream
    that cannot show a defect (one track to swap, no Name to stop by) is not
    spent on it.
    """
    if defect == "one-track-of-two":
        return request.track == "both_tracks"
    if defect == "tracks-swapped":
        return len(TRACKS[request.track]) == 1
    if defect == "params-reordered":
        return len(request.parameters) >= 2
    if defect in ("drop-last-param", "param-altered"):
        return bool(request.parameters)
    if defect == "stop-by-name-404":
        return request.name is not None
    if defect == "name-sid-when-absent":
        return request.name is None
    if defect.startswith("callback-"):
        return request.status_callback is not None
    if defect == "bearer-missing":
        return request.bearer is not None
    return defect not in GLOBAL_DEFECTS


class Refusal(Exception):
    """A request the contract refuses: the HTTP status and the JSON body to answer."""

    def __init__(self, status: int, body: Mapping[str, object]) -> None:
        super().__init__(status)
        self.status = status
        self.body = dict(body)


def compat_error(status: int, code: int, message: str) -> Refusal:
    """``CompatibilityErrorResponse``: code, message, more_info, status."""
    return Refusal(
        status,
        {"code": code, "message": message, "more_info": MORE_INFO, "status": status},
    )


def validation_error(*messages: str) -> Refusal:
    """422 with ``CompatibilityErrorStringArrayResponse`` (conference streams)."""
    return Refusal(422, {"errors": list(messages)})


@dataclasses.dataclass(frozen=True, slots=True)
class CreateRequest:
    url: str
    name: str | None
    track: str
    codec: Codec
    status_callback: str | None
    status_callback_method: str
    real_time: bool | None
    parameters: tuple[tuple[str, str], ...]
    """In request order: by parameter index."""
    bearer: str | None


_WHITESPACE = re.compile(r"\s")
_PARAM = re.compile(r"^Parameter(\d+)\.(Name|Value)$")
_KNOWN = {
    "Url",
    "Name",
    "Track",
    "StatusCallback",
    "StatusCallbackMethod",
    "StreamCodec",
    "StreamRealTime",
    "AuthorizationBearerToken",
}


def stream_url_problem(url: str, *, allow_ws: bool = False) -> str | None:
    """Why ``url`` is not a usable wss:// URL (error 31922), or ``None``."""
    if _WHITESPACE.search(url):
        return "The websocket URL has an embedded or trailing whitespace"
    scheme, _, rest = url.partition("://")
    if scheme.lower() not in (("wss", "ws") if allow_ws else ("wss",)):
        return "The websocket URL schema is not WSS"
    host = rest.split("/", 1)[0].rsplit("@", 1)[-1]
    if not host or host.startswith(":"):
        return "The websocket URL provided for the stream is invalid"
    return None


def parse_create(
    form: Sequence[tuple[str, str]], *, allow_ws: bool = False
) -> CreateRequest:
    """Validate a create body (form or JSON pairs) into a :class:`CreateRequest`.

    Raises:
        Refusal: what the platform answers instead (422 list or 400/31922).
    """
    fields: dict[str, str] = {}
    params: dict[int, list[str]] = {}
    for key, value in form:
        match = _PARAM.match(key)
        if match:
            index = int(match.group(1))
            if not 1 <= index <= MAX_PARAMETERS:
                raise validation_error(
                    f"{key}: up to {MAX_PARAMETERS} custom parameters are allowed"
                )
            slot = params.setdefault(index, ["", ""])
            slot[0 if match.group(2) == "Name" else 1] = value
        elif key in _KNOWN:
            fields[key] = value
    url = fields.get("Url")
    if not url:
        raise validation_error("Url is required")
    problem = stream_url_problem(url, allow_ws=allow_ws)
    if problem:
        raise compat_error(400, 31922, problem)
    track = fields.get("Track", DEFAULT_TRACK)
    if track not in TRACKS:
        raise validation_error(f"Track must be one of {', '.join(TRACKS)}")
    codec_name = fields.get("StreamCodec", DEFAULT_CODEC)
    if codec_name not in CODECS:
        raise validation_error(f"StreamCodec must be one of {', '.join(CODECS)}")
    method = fields.get("StatusCallbackMethod", "POST").upper()
    if method not in ("GET", "POST"):
        raise validation_error("StatusCallbackMethod must be GET or POST")
    callback = fields.get("StatusCallback") or None
    if callback is not None and not re.match(r"^https?://[^/\s]+", callback):
        raise validation_error("StatusCallback must be an absolute http(s) URL")
    real_time: bool | None = None
    if "StreamRealTime" in fields:
        text = fields["StreamRealTime"].lower()
        if text not in ("true", "false"):
            raise validation_error("StreamRealTime must be true or false")
        real_time = text == "true"
    parameters = []
    for index in sorted(params):
        name, value = params[index]
        if not name:
            raise validation_error(f"Parameter{index}.Name is required with its Value")
        parameters.append((name, value))
    return CreateRequest(
        url=url,
        name=fields.get("Name") or None,
        track=track,
        codec=CODECS[codec_name],
        status_callback=callback,
        status_callback_method=method,
        real_time=real_time,
        parameters=tuple(parameters),
        bearer=fields.get("AuthorizationBearerToken") or None,
    )


def rfc2822(when: datetime.datetime) -> str:
    """``Tue, 25 Sep 2018 20:00:00 +0000``: the response's ``date_updated``."""
    return email.utils.format_datetime(when.astimezone(datetime.UTC))


def stream_document(
    *,
    account_sid: str,
    conference_sid: str,
    sid: str,
    name: str | None,
    status: str,
    updated: datetime.datetime,
    defects: frozenset[str] = frozenset(),
) -> dict[str, object]:
    """``ConferenceStreamResponse``: exactly the seven documented fields."""
    uri = f"/api/laml/2010-04-01/Accounts/{account_sid}/Conferences/{conference_sid}/Streams/{sid}.json"
    date = rfc2822(updated)
    if "date-unix" in defects:
        date = str(int(updated.timestamp()))
    if "uri-relative" in defects:
        uri = f"Streams/{sid}.json"
    if name is None and "name-sid-when-absent" in defects:
        name = sid
    return {
        "account_sid": account_sid,
        "conference_sid": conference_sid,
        "date_updated": date,
        "name": name,
        "sid": sid,
        "status": status,
        "uri": uri,
    }


# --- audio: a 400 Hz tone, whole periods per second, so 50 frames loop ---

_TONE_HZ: Final = 400
_AMPLITUDE: Final = 8000


def tone(rate: int, count: int, start: int = 0) -> list[int]:
    """``count`` 16-bit samples of the tone from sample ``start``."""
    step = 2 * math.pi * _TONE_HZ / rate
    return [round(_AMPLITUDE * math.sin(step * (start + i))) for i in range(count)]


def ulaw(sample: int) -> int:
    """G.711 mu-law of one 16-bit sample (ITU-T G.711, the classic bias-0x84 coder)."""
    sign = 0x80 if sample < 0 else 0
    magnitude = min(abs(sample), 32635) + 0x84
    exponent = max(magnitude.bit_length() - 8, 0)
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    return ~(sign | exponent << 4 | mantissa) & 0xFF


def alaw(sample: int) -> int:
    """G.711 A-law of one 16-bit sample (13-bit segments, even bits inverted)."""
    value = sample >> 3
    if value >= 0:
        mask = 0xD5
    else:
        mask = 0x55
        value = -value - 1
    segment = max(value.bit_length() - 5, 0)
    if segment >= 8:
        return 0x7F ^ mask
    if segment < 2:
        code = segment << 4 | (value >> 1) & 0x0F
    else:
        code = segment << 4 | (value >> segment) & 0x0F
    return code ^ mask


def encode(codec: Codec, samples: Sequence[int]) -> bytes:
    if codec.name == "PCMU":
        return bytes(ulaw(s) for s in samples)
    if codec.name == "PCMA":
        return bytes(alaw(s) for s in samples)
    return b"".join(s.to_bytes(2, "big", signed=True) for s in samples)


def frames(codec: Codec) -> list[str]:
    """One second of the tone as 50 base64 payloads of 20 ms each (they loop)."""
    per_frame = codec.rate * FRAME_MS // 1000
    return [
        base64.b64encode(
            encode(codec, tone(codec.rate, per_frame, i * per_frame))
        ).decode()
        for i in range(1000 // FRAME_MS)
    ]


# --- WebSocket messages ---


def connected_message() -> str:
    return json.dumps({"event": "connected", "protocol": "Call", "version": "0.2.0"})


def start_message(
    *,
    seq: int,
    stream_sid: str,
    account_sid: str,
    call_sid: str,
    request: CreateRequest,
    defects: frozenset[str] = frozenset(),
) -> str:
    tracks = list(TRACKS[request.track])
    if "tracks-swapped" in defects and len(tracks) == 1:
        tracks = ["outbound" if tracks[0] == "inbound" else "inbound"]
    params = list(request.parameters)
    if params and "drop-last-param" in defects:
        params.pop()
    if params and "param-altered" in defects:
        params[0] = (params[0][0], params[0][1] + "x")
    if "param-extra" in defects:
        params.append(("independentExtra", "1"))
    if len(params) >= 2 and "params-reordered" in defects:
        params[0], params[1] = params[1], params[0]
    media_format = {
        "encoding": request.codec.encoding,
        "sampleRate": request.codec.rate,
        "channels": 2 if "channels-2" in defects else 1,
    }
    return json.dumps(
        {
            "event": "start",
            "sequenceNumber": str(seq),
            "start": {
                "streamSid": stream_sid,
                "accountSid": account_sid,
                "callSid": call_sid,
                "tracks": tracks,
                "customParameters": dict(params),
                "mediaFormat": media_format,
            },
        }
    )


def media_message(
    *,
    seq: int,
    track: str,
    chunk: int,
    timestamp_ms: int,
    payload: str,
    other_sid: str | None = None,
    numeric_timestamp: bool = False,
) -> str:
    doc: dict[str, object] = {
        "event": "media",
        "sequenceNumber": str(seq),
        "media": {
            "track": track,
            "chunk": str(chunk),
            "timestamp": timestamp_ms if numeric_timestamp else str(timestamp_ms),
            "payload": payload,
        },
    }
    if other_sid is not None:
        doc["streamSid"] = other_sid
    return json.dumps(doc)


def stop_message(seq: int) -> str:
    return json.dumps({"event": "stop", "sequenceNumber": str(seq)})


# --- status callbacks ---


def callback_params(
    *,
    account_sid: str,
    conference_sid: str,
    stream_sid: str,
    name: str | None,
    event: str,
    track: str,
    when: datetime.datetime,
    error: str | None = None,
    defects: frozenset[str] = frozenset(),
) -> list[tuple[str, str]]:
    """The documented callback parameters, Timestamp first (not sorted, on purpose)."""
    stamp = (
        rfc2822(when)
        if "callback-timestamp-rfc2822" in defects
        else when.astimezone(datetime.UTC).isoformat()
    )
    params = [
        ("Timestamp", stamp),
        ("AccountSid", account_sid),
        ("ConferenceSid", conference_sid),
        ("StreamSid", stream_sid),
        ("StreamName", name or stream_sid),
        ("StreamEvent", event),
        ("StreamTrack", track),
    ]
    if error is not None:
        params.append(("StreamError", error))
    return params


def sign(
    key: str, url: str, post: Sequence[tuple[str, str]], *, sort: bool = True
) -> str:
    """X-SignalWire-Signature: base64 HMAC-SHA1 of the URL, then each POST name+value sorted by name."""
    pairs = sorted(post) if sort else list(post)
    data = url + "".join(k + v for k, v in pairs)
    return base64.b64encode(
        hmac.new(key.encode(), data.encode(), hashlib.sha1).digest()
    ).decode()


def new_sid() -> str:
    return str(uuid.uuid4())
