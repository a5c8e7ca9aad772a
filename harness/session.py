"""One received media stream: feed it messages, collect frames, metrics and violations.

Sans-I/O in the manner of websockets' ``Protocol``: the receiver shell reads a
WebSocket message, stamps its arrival (``time.monotonic_ns()``) and calls
:meth:`StreamSession.receive`; rows go to an injected :class:`RowSink`. Nothing
here raises on hostile input: every breach becomes a violation and the session
keeps measuring, so one bad field never costs the frames around it.
"""

from __future__ import annotations

import binascii
import itertools
from typing import Final

import msgspec
from msgspec import UNSET

from harness import messages as m
from harness.api import TRACK_MEDIA
from harness.checks_io import checker_rows
from harness.codecs import FRAME_MS, codec_by_encoding, get_codec
from harness.correlation import PARAM_NAME, Expectation
from harness.metrics import InterarrivalJitter, SequenceCounter
from harness.records import RowSink
from harness.rules import Checker
from harness.transitions import State, allowed, next_state


__all__ = ["AUDIO_SAMPLE_EVERY", "StreamSession", "TrackState"]

_VERSIONS: Final = {"0.2.0": "signalwire", "1.0.0": "twilio"}
_TIMESTAMP_SLACK_MS: Final = 60
_MS: Final = 1_000_000
AUDIO_SAMPLE_EVERY: Final = 50
"""Keep the payload of chunks 1, 51, 101, ...: one 20 ms frame a second per track."""
_connection_ids = itertools.count(1)


class TrackState:
    """What one media track has shown so far."""

    __slots__ = ("chunks", "jitter", "last_timestamp")

    def __init__(self) -> None:
        self.chunks = SequenceCounter()
        self.jitter = InterarrivalJitter()
        self.last_timestamp = -1


class StreamSession:
    """Check and measure one WebSocket connection from the platform.

    Args:
        connected_ns: when the socket was accepted.
        bearer_ok: the handshake's bearer-token check, if the shell made one.
    """

    def __init__(self, connected_ns: int, *, bearer_ok: bool | None = None) -> None:
        self.connection_id = f"conn-{next(_connection_ids)}"
        self.checker = Checker(self.connection_id)
        self.state = State.AWAIT_CONNECTED
        self.connected_ns = connected_ns
        self.start_ns = 0
        self.first_media_ns = 0
        self.stop_ns = 0
        self.stream_sid = ""
        self.codec = ""
        self.track = ""
        self.expectation: Expectation | None = None
        self.frames = 0
        self.payload_bytes = 0
        self.tracks: dict[str, TrackState] = {}
        self._frame_bytes = 0
        self._next_seq = 0  # 0 until start: connected carries no sequenceNumber
        self._decoder = m.decoder()
        self._closed = False
        if bearer_ok is not None:
            self.checker.check(
                "WS-HANDSHAKE-001",
                bearer_ok,
                expected="the token sent",
                actual="match" if bearer_ok else "missing or different",
                at_ns=connected_ns,
            )

    @property
    def subject(self) -> str:
        return self.stream_sid or self.connection_id

    @property
    def violations(self) -> int:
        return self.checker.failures

    # -- feeding -----------------------------------------------------------

    def receive(self, data: str | bytes, arrival_ns: int, sink: RowSink) -> None:
        """Handle one WebSocket message that arrived at ``arrival_ns``."""
        check = self.checker.check
        message: m.Message | None
        if isinstance(data, bytes):
            check(
                "WS-JSON-001",
                False,
                expected="a text frame",
                actual=f"{len(data)} binary bytes",
                at_ns=arrival_ns,
            )
            return
        try:
            message = self._decoder.decode(data)
        except msgspec.ValidationError as exc:
            message = self._lenient(data, str(exc), arrival_ns)
            if message is None:
                return
        except msgspec.DecodeError as exc:
            check(
                "WS-JSON-001",
                False,
                expected="a JSON object with a known event",
                actual=f"{exc}: {data[:80]!r}",
                at_ns=arrival_ns,
            )
            return
        else:
            check("WS-JSON-002", True)
        check("WS-JSON-001", True)
        self._advance(message, arrival_ns)
        match message:
            case m.Media():
                self._media(message, arrival_ns, sink)
            case m.Start():
                self._start(message, arrival_ns)
            case m.Connected():
                version = message.version
                dialect = _VERSIONS.get(version)
                if (
                    check(
                        "WS-CONNECTED-001",
                        message.protocol == "Call" and dialect is not None,
                        expected='protocol "Call", version 0.2.0 or 1.0.0',
                        actual=f"protocol {message.protocol!r}, version {version!r}",
                        at_ns=arrival_ns,
                    )
                    and dialect is not None
                ):
                    self.checker.readings["WS-CONNECTED-001"] = f"{dialect} {version}"
            case m.Stop():
                self._sequence(message.sequence_number, arrival_ns)
                self._same_sid(message.stream_sid, arrival_ns)
                self.stop_ns = arrival_ns
            case m.Dtmf() | m.Mark():
                if message.sequence_number is not UNSET:
                    self._sequence(message.sequence_number, arrival_ns)
                self._same_sid(message.stream_sid, arrival_ns)

    def close(self, closed_ns: int, close_code: int | None, sink: RowSink) -> None:
        """The socket closed: record the stream's row and its rule outcomes (once)."""
        if self._closed:
            return
        self._closed = True
        self.checker.check(
            "WS-STOP-001",
            self.state is State.STOPPED,
            expected="stop before close",
            actual=f"closed in state {self.state.value}",
            at_ns=closed_ns,
        )
        exp = self.expectation
        sink.add(
            "streams",
            (
                self.stream_sid,
                exp.run_id if exp else "",
                exp.request_id if exp else "",
                self.codec,
                self.track,
                exp.n_params if exp else -1,
                self.connected_ns,
                self.start_ns,
                self.first_media_ns,
                self.stop_ns,
                closed_ns,
                self.frames,
                self.payload_bytes,
                self.checker.failures,
                -1 if close_code is None else close_code,
            ),
        )
        self.checker.subject = self.subject
        for table, row in checker_rows("receiver", self.checker):
            sink.add(table, row)

    # -- steps ---------------------------------------------------------------

    def _lenient(self, data: str, error: str, at_ns: int) -> m.Message | None:
        """Record a type violation, then read the message with numbers turned to strings."""
        self.checker.check(
            "WS-JSON-002",
            False,
            expected="documented JSON types",
            actual=error,
            at_ns=at_ns,
        )
        try:
            raw = msgspec.json.decode(data)
            message: m.Message = msgspec.convert(_stringify(raw), m.Message)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            self.checker.check(
                "WS-JSON-001",
                False,
                expected="a message with a known event",
                actual=str(exc),
                at_ns=at_ns,
            )
            return None
        return message

    def _advance(self, message: m.Message, at_ns: int) -> None:
        event = type(message).__struct_config__.tag
        assert isinstance(event, str)
        following = next_state(self.state, event)
        if self.checker.check(
            "WS-ORDER-001",
            following is not None,
            expected=" or ".join(allowed(self.state)) or "nothing after stop",
            actual=event,
            at_ns=at_ns,
        ):
            assert following is not None
            self.state = following
        elif event == "start" and self.state is State.AWAIT_CONNECTED:
            self.state = State.STREAMING  # connected was missing: keep measuring

    def _sequence(self, value: str, at_ns: int) -> int:
        try:
            seq = int(value)
        except ValueError:
            self.checker.check(
                "WS-JSON-002",
                False,
                expected="sequenceNumber as a decimal string",
                actual=value[:40],
                at_ns=at_ns,
            )
            return -1
        expected = self._next_seq or 1
        self.checker.check(
            "WS-SEQ-001",
            seq == expected,
            expected=expected,
            actual=seq,
            seq=seq,
            at_ns=at_ns,
        )
        self._next_seq = seq + 1
        return seq

    def _same_sid(self, sid: str | msgspec.UnsetType, at_ns: int) -> None:
        if sid is not UNSET:
            self.checker.check(
                "WS-SID-001",
                sid == self.stream_sid,
                expected=self.stream_sid,
                actual=sid,
                at_ns=at_ns,
            )

    def _start(self, message: m.Start, at_ns: int) -> None:
        check = self.checker.check
        body = message.start
        self._next_seq = 0
        self._sequence(message.sequence_number, at_ns)
        self.start_ns = at_ns
        self.stream_sid = self.checker.subject = body.stream_sid
        fmt = body.media_format
        codec = codec_by_encoding(fmt.encoding, fmt.sample_rate)
        self.codec = codec or f"{fmt.encoding}@{fmt.sample_rate}"
        if codec is not None:
            self._frame_bytes = get_codec(codec).frame_bytes
        params = body.custom_parameters if body.custom_parameters is not UNSET else {}
        exp = self.expectation = Expectation.from_parameters(params)
        wanted = exp.codec if exp else None
        check(
            "WS-START-001",
            codec is not None
            and fmt.channels == 1
            and (wanted is None or codec == wanted),
            expected=f"{wanted or 'a documented codec'}, 1 channel",
            actual=f"{fmt.encoding} {fmt.sample_rate} Hz, {fmt.channels} channel(s)",
            at_ns=at_ns,
        )
        tracks = tuple(body.tracks)
        if exp is not None:
            self.track = exp.track
            check(
                "WS-START-002",
                tracks == TRACK_MEDIA.get(exp.track),
                expected=list(TRACK_MEDIA.get(exp.track, ())),
                actual=list(tracks),
                at_ns=at_ns,
            )
            check(
                "WS-START-003",
                exp.matches(params),
                expected=f"{exp.n_params} parameters besides {PARAM_NAME}, digest {exp.params_digest}",
                actual=f"{len(params) - 1} parameters",
                at_ns=at_ns,
            )
        else:
            known = tracks in TRACK_MEDIA.values()
            check(
                "WS-START-002",
                known,
                expected="inbound, outbound or both",
                actual=list(tracks),
                at_ns=at_ns,
            )
            self.track = next((k for k, v in TRACK_MEDIA.items() if v == tracks), "")
        for name in tracks:
            self.tracks[name] = TrackState()
        self.checker.note(
            "WS-START-004", "absent" if message.stream_sid is UNSET else "present"
        )
        self._same_sid(message.stream_sid, at_ns)

    def _media(self, message: m.Media, arrival_ns: int, sink: RowSink) -> None:
        check = self.checker.check
        media = message.media
        seq = self._sequence(message.sequence_number, arrival_ns)
        if message.stream_sid is not UNSET:
            self._same_sid(message.stream_sid, arrival_ns)
        track = self.tracks.get(media.track)
        if not check(
            "WS-MEDIA-001",
            track is not None,
            expected=list(self.tracks),
            actual=media.track,
            seq=seq,
            at_ns=arrival_ns,
        ):
            track = self.tracks.setdefault(media.track, TrackState())
        assert track is not None
        try:
            chunk = int(media.chunk)
            timestamp = int(media.timestamp)
        except ValueError:
            check(
                "WS-JSON-002",
                False,
                expected="chunk and timestamp as decimal strings",
                actual=f"chunk {media.chunk[:20]!r}, timestamp {media.timestamp[:20]!r}",
                seq=seq,
                at_ns=arrival_ns,
            )
            return
        expected_chunk = track.chunks.highest + 1
        track.chunks.receive(chunk)
        check(
            "WS-MEDIA-002",
            chunk == expected_chunk,
            expected=expected_chunk,
            actual=chunk,
            seq=seq,
            at_ns=arrival_ns,
        )
        check(
            "WS-MEDIA-004",
            timestamp >= track.last_timestamp,
            expected=f">= {track.last_timestamp}",
            actual=timestamp,
            seq=seq,
            at_ns=arrival_ns,
        )
        track.last_timestamp = max(track.last_timestamp, timestamp)
        nominal = (chunk - 1) * FRAME_MS
        check(
            "WS-MEDIA-005",
            abs(timestamp - nominal) <= _TIMESTAMP_SLACK_MS,
            expected=f"{nominal} ± {_TIMESTAMP_SLACK_MS}",
            actual=timestamp,
            seq=seq,
            at_ns=arrival_ns,
        )
        try:
            payload = binascii.a2b_base64(media.payload, strict_mode=True)
            size = len(payload)
        except (binascii.Error, ValueError):
            payload, size = b"", -1
        if chunk % AUDIO_SAMPLE_EVERY == 1 and size > 0:
            # one frame a second per track, kept whole so reports can check the audio
            sink.add(
                "audio_samples",
                (self.stream_sid, media.track, chunk, self.codec, payload),
            )
        check(
            "WS-MEDIA-003",
            size == self._frame_bytes,
            expected=f"{self._frame_bytes} bytes of base64",
            actual=size if size >= 0 else "bad base64",
            seq=seq,
            at_ns=arrival_ns,
        )
        jitter = track.jitter.update(arrival_ns, timestamp * _MS)
        if not self.first_media_ns:
            self.first_media_ns = arrival_ns
        self.frames += 1
        self.payload_bytes += max(size, 0)
        sink.add(
            "frames",
            (
                self.stream_sid,
                media.track,
                chunk,
                seq,
                timestamp,
                arrival_ns,
                max(size, 0),
                jitter,
            ),
        )


def _stringify(value: object) -> object:
    """Turn ints and floats into strings where the protocol wants strings (not ``duration``)."""
    if isinstance(value, dict):
        return {
            k: (
                str(v)
                if k in ("sequenceNumber", "chunk", "timestamp")
                and isinstance(v, int | float)
                else _stringify(v)
            )
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_stringify(v) for v in value]
    return value
