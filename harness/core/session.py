"""One received media stream: feed it messages, collect frames, metrics and violations.

Sans-I/O in the manner of websockets' ``Protocol``: the receiver shell reads a
WebSocket message, stamps its arrival (``time.monotonic_ns()``) and calls
:meth:`StreamSession.receive`; rows go to an injected :class:`RowSink`. Nothing
here raises on hostile input: every breach becomes a violation and the session
keeps measuring, so one bad field never costs the frames around it.

Cost: a conformant ``media`` message takes a fast path that decides every
per-message rule with plain comparisons and counts the passes in one integer
(handed to the checker in bulk at close); only a message that breaks a rule
goes through the per-rule path that builds evidence. Issue 4 bounds the
checker at the cost of parsing (tests/benchmarks/test_checker.py).
"""

from __future__ import annotations

import binascii
import itertools
import re
from typing import Final

import msgspec
from msgspec import UNSET

from harness.core import messages as m
from harness.core.api import TRACK_MEDIA
from harness.core.checks_io import checker_rows
from harness.core.codecs import CODEC_NAMES, FRAME_MS, codec_by_encoding, get_codec
from harness.core.correlation import PARAM_NAME, Expectation, fingerprint, value_hash
from harness.core.metrics.jitter import InterarrivalJitter
from harness.core.records import RowSink
from harness.core.rules import Checker
from harness.core.transitions import State, allowed, next_state


__all__ = [
    "AUDIO_SAMPLE_EVERY",
    "DIALECT_VERSIONS",
    "MAX_EXTRA_TRACKS",
    "MAX_KEY_CHARS",
    "MAX_PARAMS",
    "MAX_TRACKS",
    "MAX_VALUE_CHARS",
    "StreamSession",
    "TrackState",
]

DIALECT_VERSIONS: Final = {"0.2.0": "signalwire", "1.0.0": "twilio"}
"""``connected.version`` per dialect (contract §5.4)."""
_TIMESTAMP_SLACK_MS: Final = 60
TIMESTAMP_BOUND_MS: Final = 200
"""WS-MEDIA-006: how far ``timestamp - (chunk-1) x 20 ms`` may drift, per track,
from its value on the track's first in-sequence frame.

The docs say only "Presentation timestamp in milliseconds from the start of
the stream" (https://signalwire.com/docs/compatibility-api/cxml/reference/voice/stream),
so wall-clock readings are allowed: SOMLENG's mod_twilio_stream
(https://github.com/somleng/somleng-switch) stamps wall-clock ms since start.
Those differ from media time by the wait for the first read (a constant, which
measuring from the first frame's offset takes out) plus scheduling jitter, tens
of ms in practice, so 200 ms leaves several times that; a clock running 1.5x
fast drifts 10 ms a frame and crosses it after 0.4 s of audio, within the
shortest stream a smoke run holds."""
MEDIA_DUE_MS: Final = 300
"""WS-MEDIA-007: a stream that lasted this long from start to stop (or close)
must have carried media on every track it announced. The docs promise a media
message per 20 ms of audio on each requested track
(https://signalwire.com/docs/compatibility-api/cxml/reference/voice/stream,
"media" messages); 300 ms is fifteen frames' time, room for a platform's first
frame to come late, so a stream stopped right after start is no false alarm."""
RATE_WINDOW_CHUNKS: Final = 250
"""WS-MEDIA-006's window: 250 chunks, 5 s of audio; one is judged every half window."""
RATE_TOLERANCE: Final = 0.05
"""WS-MEDIA-006: over a window, timestamp advances within 5 % of the audio's duration."""
_MS: Final = 1_000_000
AUDIO_SAMPLE_EVERY: Final = 50
"""Keep the payload of chunks 1, 51, 101, ...: one 20 ms frame a second per track."""
_connection_ids = itertools.count(1)

# What a peer can make the receiver keep (WS-LIMIT-001). A frame row repeats
# its stream sid and track name, so a 200 KB name in every message would be
# copied into every row; unknown tracks each hold state. Past a bound the
# excess is counted (one violation per kind per stream) and not kept. Each
# sits far above anything the docs allow, so a conformant platform never
# meets one. The message itself is bounded by the server (``--max-size``).
MAX_KEY_CHARS: Final = 256
"""Longest track name, stream/account/call id or parameter name kept."""
MAX_VALUE_CHARS: Final = 4096
"""Longest custom parameter value read (Twilio: name + value under 500)."""
MAX_PARAMS: Final = 128
"""Custom parameters read from start (the API takes at most 99)."""
MAX_TRACKS: Final = 8
"""Tracks start may announce that are kept (the docs name two)."""
MAX_EXTRA_TRACKS: Final = 4
"""Unannounced tracks measured beyond the announced ones (WS-MEDIA-001 fails
for each); media on any further track is counted, not measured or recorded."""
MAX_CODEC_CHARS: Final = 32
"""Longest unknown ``mediaFormat.encoding`` kept as a codec name."""
_LIMITS: Final = {
    "name": f"track names and ids of at most {MAX_KEY_CHARS} characters",
    "tracks": f"at most {MAX_TRACKS} announced tracks and {MAX_EXTRA_TRACKS} more",
    "parameters": f"at most {MAX_PARAMS} custom parameters, names of at most "
    f"{MAX_KEY_CHARS} and values of at most {MAX_VALUE_CHARS} characters",
    "encoding": f"a mediaFormat.encoding of at most {MAX_CODEC_CHARS} characters",
}
"""Each kind of excess and the bound it broke, as the violation says it."""
_OTHER_TRACKS: Final = "\x00other"
"""Stands in the tracks media came on for the ones past the bound (WS-MEDIA-007)."""


def _cut(value: str, limit: int = MAX_KEY_CHARS) -> str:
    """``value`` if short enough, else its head and a hash of the whole (distinct
    values stay distinct, in bounded space)."""
    if len(value) <= limit:
        return value
    return f"{value[: limit - 14]}~{value_hash(value)}"


# contract §5.4, §2.4: SignalWire ids are UUIDs; Twilio's are a prefix + 32 hex.
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_TWILIO_ID = {
    "streamSid": re.compile(r"MZ[0-9a-fA-F]{32}"),
    "callSid": re.compile(r"CA[0-9a-fA-F]{32}"),
}

_MEDIA: Final = m.Media
# the fast path's constants as module globals (a negation or an attribute
# lookup less per message each)
_a2b: Final = binascii.a2b_base64
_BAD_NUMBER_OR_BASE64: Final = (ValueError, binascii.Error)
_SLACK_LOW: Final = -_TIMESTAMP_SLACK_MS
_BOUND_LOW: Final = -TIMESTAMP_BOUND_MS
_STREAMING: Final = State.STREAMING  # a module constant: enum member lookups are slow

_FAST_RULES: Final = (
    "WS-JSON-001",
    "WS-JSON-002",
    "WS-ORDER-001",
    "WS-SEQ-001",
    "WS-MEDIA-001",
    "WS-MEDIA-002",
    "WS-MEDIA-003",
    "WS-MEDIA-004",
    "WS-MEDIA-005",
    "WS-MEDIA-006",
)
"""Rules a ``media`` message on the fast path passes (each counted once per message)."""


class TrackState:
    """What one media track has shown so far.

    ``jitter`` is the track's :class:`harness.core.metrics.InterarrivalJitter` (RFC
    3550 §6.4.1); a frame row carries NaN for the first
    :data:`~harness.core.metrics.jitter.WARMUP_FRAMES` frames of the track, while
    the estimate is still rising from 0.
    """

    __slots__ = (
        "anchor_chunk",
        "anchor_ts",
        "first_offset",
        "highest",
        "jitter",
        "last_timestamp",
        "mid_chunk",
        "mid_ts",
        "window_due",
    )

    def __init__(self) -> None:
        self.highest = 0
        """Highest ``chunk`` seen (0 before the first)."""
        self.last_timestamp = -1
        self.first_offset: int | None = None
        """``timestamp - (chunk-1) x 20`` of the first in-sequence frame (WS-MEDIA-006)."""
        self.jitter = InterarrivalJitter()
        # WS-MEDIA-006's rate windows (see StreamSession._rate): the in-sequence
        # frames where the window being judged and the next one began
        self.anchor_chunk = self.mid_chunk = 0
        self.anchor_ts = self.mid_ts = 0
        self.window_due = 0
        """Chunk from which the next half window is due (0: before the first frame)."""


class StreamSession:
    """Check and measure one WebSocket connection from the platform.

    Args:
        connected_ns: when the socket was accepted.
        bearer_ok: the handshake's bearer-token check, if the shell made one.
        tls: whether the connection came over TLS, if the shell knows.
    """

    __slots__ = (
        "_closed",
        "_decoder",
        "_excess",
        "_fast",
        "_fast_sid",
        "_frame_bytes",
        "_frames",
        "_media_tracks",
        "_need_sid",
        "_next_seq",
        "_payload_bytes",
        "_start_facts",
        "_wire_sid",
        "account_sid",
        "call_sid",
        "checker",
        "codec",
        "connected_ns",
        "connection_id",
        "dialect",
        "expectation",
        "first_media_ns",
        "start_ns",
        "state",
        "stop_ns",
        "stream_sid",
        "track",
        "tracks",
    )

    def __init__(
        self,
        connected_ns: int,
        *,
        bearer_ok: bool | None = None,
        tls: bool | None = None,
    ) -> None:
        self.connection_id = f"conn-{next(_connection_ids)}"
        self.checker = Checker(self.connection_id)
        self.state = State.AWAIT_CONNECTED
        self.connected_ns = connected_ns
        self.start_ns = 0
        self.first_media_ns = 0
        self.stop_ns = 0
        self.stream_sid = ""
        self._wire_sid = ""
        """start.streamSid as sent, for comparisons (``stream_sid`` is bounded)."""
        self.account_sid = ""
        self.call_sid = ""
        self.codec = ""
        self.track = ""
        self.dialect: str | None = None
        """``signalwire`` or ``twilio`` from ``connected.version``; ``None`` if unknown."""
        self.expectation: Expectation | None = None
        self._frames = 0
        self._media_tracks: tuple[set[str], tuple[str, ...]] = (set(), ())
        """WS-MEDIA-007: the tracks media came on, and the ones start made due."""
        self._payload_bytes = 0
        self.tracks: dict[str, TrackState] = {}
        self._frame_bytes = 0
        self._next_seq = 0  # 0 until start: connected carries no sequenceNumber
        self._decoder = m.decoder()
        self._closed = False
        self._excess: dict[str, list[int]] = {}
        """WS-LIMIT-001: kind -> [times past the bound, when first]."""
        self._fast = 0
        """Media messages that passed every rule of :data:`_FAST_RULES` on the
        fast path and are not yet folded into the checker and the totals."""
        self._fast_sid = 0
        """... of which carried a top-level ``streamSid`` (a WS-SID-001 pass each)."""
        self._need_sid = False
        """Twilio dialect: a media message without ``streamSid`` breaks WS-DIALECT-002."""
        self._start_facts = ("", "", "", "")
        """What start announced, for the report's join by sid (harness.core.join):
        tracks, mediaFormat, customParameters fingerprint, streamload value."""
        if bearer_ok is not None:
            self.checker.check(
                "WS-HANDSHAKE-001",
                bearer_ok,
                expected="the token sent",
                actual="match" if bearer_ok else "missing or different",
                at_ns=connected_ns,
            )
        if tls is not None:
            self.checker.check(
                "WS-HANDSHAKE-002",
                tls,
                expected="wss (TLS)",
                actual="TLS" if tls else "plain ws",
                at_ns=connected_ns,
            )

    @property
    def subject(self) -> str:
        return self.stream_sid or self.connection_id

    @property
    def violations(self) -> int:
        return self.checker.failures

    @property
    def frames(self) -> int:
        """Media frames received (whatever their rule outcomes)."""
        return self._frames + self._fast

    @property
    def payload_bytes(self) -> int:
        """Decoded payload bytes received."""
        return self._payload_bytes + self._fast * self._frame_bytes

    # -- feeding -----------------------------------------------------------

    def receive(self, data: str | bytes, arrival_ns: int, sink: RowSink) -> None:
        """Handle one WebSocket message that arrived at ``arrival_ns``.

        Long because: this is the receiver's per-message hot path; the media
        fast path is inlined here on purpose (a call costs about as much as a
        rule check), and each step mirrors one in :meth:`_media`.
        """
        if not isinstance(data, str):
            self.checker.check(
                "WS-JSON-001",
                False,
                expected="a text frame",
                actual=f"{len(data)} binary bytes",
                at_ns=arrival_ns,
            )
            return
        try:
            message = self._decoder.decode(data)
        except msgspec.DecodeError as exc:
            self._undecodable(data, exc, arrival_ns, sink)
            return
        except RecursionError:
            # deeper than any message: a violation, and the stream goes on
            self._too_deep(data, arrival_ns)
            return
        if type(message) is _MEDIA and self.state is _STREAMING:
            # The fast path: decide every per-message rule with plain
            # comparisons; each mirrors one in _media, which re-checks a
            # refused message rule by rule with evidence.
            media = message.media
            track = self.tracks.get(media.track)
            sid = message.stream_sid
            # a track's first frame goes the per-rule way: it starts the jitter
            # estimate and may be the stream's first media
            if (
                track is not None
                and track.jitter.frames
                and (sid == self._wire_sid if sid is not UNSET else not self._need_sid)
            ):
                try:
                    seq = int(message.sequence_number)
                    chunk = int(media.chunk)
                    timestamp = int(media.timestamp)
                    payload = _a2b(media.payload, strict_mode=True)
                except _BAD_NUMBER_OR_BASE64:
                    seq = -1
                size = len(payload) if seq >= 0 else -1
                if (
                    seq == self._next_seq
                    and chunk == track.highest + 1
                    and timestamp >= track.last_timestamp
                    and size == self._frame_bytes
                    and _SLACK_LOW
                    <= (offset := timestamp - (chunk - 1) * FRAME_MS)
                    <= _TIMESTAMP_SLACK_MS
                    and track.first_offset is not None
                    and _BOUND_LOW <= offset - track.first_offset <= TIMESTAMP_BOUND_MS
                ):
                    self._next_seq = seq + 1
                    track.highest = chunk
                    track.last_timestamp = timestamp
                    if chunk >= track.window_due:  # every 125 chunks
                        self._rate(track, chunk, timestamp, seq, arrival_ns)
                    self._fast += 1  # frames and payload bytes too: size is fixed
                    if sid is not UNSET:
                        self._fast_sid += 1
                    if chunk % AUDIO_SAMPLE_EVERY == 1:
                        sink.add(
                            "audio_samples",
                            (self.stream_sid, media.track, chunk, self.codec, payload),
                        )
                    jitter = track.jitter.record(arrival_ns, timestamp * _MS)
                    sink.add(
                        "frames",
                        (
                            self.stream_sid,
                            media.track,
                            chunk,
                            seq,
                            timestamp,
                            arrival_ns,
                            size,
                            jitter,
                        ),
                    )
                    return
        self._dispatch(message, arrival_ns, sink)

    def _undecodable(
        self, data: str, exc: msgspec.DecodeError, arrival_ns: int, sink: RowSink
    ) -> None:
        """Bad JSON, or JSON of the wrong shape or types."""
        if isinstance(exc, msgspec.ValidationError):
            message = self._lenient(data, str(exc), arrival_ns)
            if message is not None:
                self._dispatch(message, arrival_ns, sink, typed=False)
            return
        self.checker.check(
            "WS-JSON-001",
            False,
            expected="a JSON object with a known event",
            actual=f"{exc}: {data[:80]!r}",
            at_ns=arrival_ns,
        )

    def _too_deep(self, data: str, arrival_ns: int) -> None:
        self.checker.check(
            "WS-JSON-001",
            False,
            expected="a JSON object with a known event",
            actual=f"JSON nested too deep to parse: {data[:80]!r}",
            at_ns=arrival_ns,
        )

    def _exceed(self, kind: str, at_ns: int) -> None:
        """Count one excess of ``kind`` (WS-LIMIT-001, judged once per kind at close)."""
        seen = self._excess.get(kind)
        if seen is None:
            self._excess[kind] = [1, at_ns]
        else:
            seen[0] += 1

    def _bounded(self, value: str, at_ns: int, limit: int = MAX_KEY_CHARS) -> str:
        """``value`` as kept: cut (and counted as an excess) past ``limit``."""
        if len(value) <= limit:
            return value
        self._exceed("name", at_ns)
        return _cut(value, limit)

    def _dispatch(
        self,
        message: m.Message,
        arrival_ns: int,
        sink: RowSink,
        *,
        typed: bool = True,
    ) -> None:
        """The per-rule path: every message but a conformant media one."""
        if typed:
            self.checker.check("WS-JSON-002", True)
        self.checker.check("WS-JSON-001", True)
        if not self._advance(message, arrival_ns):
            return
        match message:
            case m.Media():
                self._media(message, arrival_ns, sink)
            case m.Start():
                self._start(message, arrival_ns)
            case m.Connected():
                self._connected(message, arrival_ns)
            case m.Stop():
                self._stop(message, arrival_ns)
            case m.Dtmf() | m.Mark():
                if message.sequence_number is not UNSET:
                    self._sequence(message.sequence_number, arrival_ns)
                self._same_sid(message.stream_sid, arrival_ns)

    def close(
        self,
        closed_ns: int,
        close_code: int | None,
        sink: RowSink,
        *,
        shutdown: bool = False,
    ) -> None:
        """The socket closed: record the stream's row and its rule outcomes (once).

        ``shutdown``: the receiver closed the socket because it was shutting
        down. A stream still open then did not skip its stop; it was cut short
        by us (the run's drain ended first), so WS-STOP-001 is not checked for
        it rather than failed: the harness's own ending is never the platform's
        defect. A stream that had stopped still passes.
        """
        if self._closed:
            return
        self._closed = True
        if not shutdown or self.state is State.STOPPED:
            self.checker.check(
                "WS-STOP-001",
                self.state is State.STOPPED,
                expected="stop before close",
                actual=f"closed in state {self.state.value}",
                at_ns=closed_ns,
            )
        if self.state is State.STOPPED and "WS-STOP-002" not in self.checker.counts:
            self.checker.passes("WS-STOP-002", 1)  # nothing came after stop
        self._tracks_carried(closed_ns)
        self._limits()
        self.settle()
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
                *self._start_facts,
                self.account_sid,
            ),
        )
        self.checker.subject = self.subject
        for table, row in checker_rows("receiver", self.checker):
            sink.add(table, row)

    def _limits(self) -> None:
        """WS-LIMIT-001: one outcome per kind of excess seen, a pass when none."""
        if not self._excess:
            self.checker.passes("WS-LIMIT-001", 1)
            return
        for kind, (times, first_ns) in sorted(self._excess.items()):
            self.checker.check(
                "WS-LIMIT-001",
                False,
                expected=_LIMITS[kind],
                actual=f"{times} time(s) past it ({kind}); the excess was "
                "counted, not kept",
                at_ns=first_ns,
            )

    def _tracks_carried(self, closed_ns: int) -> None:
        """WS-MEDIA-007: each track start made due carried media, once media was due."""
        seen, due = self._media_tracks
        end = self.stop_ns or closed_ns
        if not self.start_ns or not due or end - self.start_ns < MEDIA_DUE_MS * _MS:
            return  # not checked: too short for media to be owed
        if not seen <= set(due):
            return  # media on other tracks: WS-MEDIA-001's finding, the aim unknown
        silent = [t for t in due if t not in seen]
        self.checker.check(
            "WS-MEDIA-007",
            not silent,
            expected=f"media on {list(due)} within "
            f"{(end - self.start_ns) // _MS} ms from start to "
            f"{'stop' if self.stop_ns else 'close'}",
            actual="no media on " + ", ".join(silent),
            at_ns=end,
        )

    def settle(self) -> None:
        """Fold the fast path's counts into the checker and the totals (idempotent).

        :meth:`close` calls it; call it before reading ``checker`` mid-stream.
        """
        checker, n = self.checker, self._fast
        if n:
            for rule in _FAST_RULES:
                checker.passes(rule, n)
            if self._need_sid:
                checker.passes("WS-DIALECT-002", n)
            self._frames += n
            self._payload_bytes += n * self._frame_bytes
            self._fast = 0
        checker.passes("WS-SID-001", self._fast_sid)
        self._fast_sid = 0

    # -- steps ---------------------------------------------------------------

    def _frame(
        self,
        track: TrackState,
        media: m.MediaBody,
        seq: int,
        chunk: int,
        timestamp: int,
        payload: bytes,
        arrival_ns: int,
        sink: RowSink,
    ) -> None:
        """Measure and record one frame (whatever its rule outcomes)."""
        size = len(payload)
        if chunk % AUDIO_SAMPLE_EVERY == 1 and size:
            # one frame a second per track, kept whole so reports can check the audio
            sink.add(
                "audio_samples",
                (self.stream_sid, media.track, chunk, self.codec, payload),
            )
        jitter = track.jitter.record(arrival_ns, timestamp * _MS)
        if not self.first_media_ns:
            self.first_media_ns = arrival_ns
        self._frames += 1
        self._payload_bytes += size
        sink.add(
            "frames",
            (
                self.stream_sid,
                media.track,
                chunk,
                seq,
                timestamp,
                arrival_ns,
                size,
                jitter,
            ),
        )

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
        except RecursionError:
            self._too_deep(data, at_ns)
            return None
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

    def _advance(self, message: m.Message, at_ns: int) -> bool:
        """Move the state machine; ``False`` when the message came after stop."""
        event = type(message).__struct_config__.tag
        assert isinstance(event, str)
        if self.state is State.STOPPED:
            # contract §5.2: stop ends the stream; what follows is outside it
            self.checker.check(
                "WS-STOP-002", False, expected="nothing", actual=event, at_ns=at_ns
            )
            return False
        following = next_state(self.state, event)
        if self.checker.check(
            "WS-ORDER-001",
            following is not None,
            expected=" or ".join(allowed(self.state)),
            actual=event,
            at_ns=at_ns,
        ):
            assert following is not None
            self.state = following
        elif event == "start" and self.state is State.AWAIT_CONNECTED:
            self.state = State.STREAMING  # connected was missing: keep measuring
        return True

    def _connected(self, message: m.Connected, at_ns: int) -> None:
        version = message.version
        dialect = DIALECT_VERSIONS.get(version)
        if (
            self.checker.check(
                "WS-CONNECTED-001",
                message.protocol == "Call" and dialect is not None,
                expected='protocol "Call", version 0.2.0 or 1.0.0',
                actual=f"protocol {message.protocol!r}, version {version!r}",
                at_ns=at_ns,
            )
            and dialect is not None
        ):
            self.checker.readings["WS-CONNECTED-001"] = f"{dialect} {version}"
        self.settle()  # a second connected may change the dialect
        self.dialect = dialect
        self._need_sid = dialect == "twilio"

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

    def _same_sid(
        self, sid: str | msgspec.UnsetType, at_ns: int, seq: int | None = None
    ) -> None:
        if sid is not UNSET:
            self.checker.check(
                "WS-SID-001",
                sid == self._wire_sid,
                expected=self.stream_sid,
                actual=sid,
                seq=seq,
                at_ns=at_ns,
            )

    def _top_level_sid(
        self, sid: str | msgspec.UnsetType, at_ns: int, seq: int | None = None
    ) -> None:
        """Twilio dialect: start, media and stop repeat ``streamSid`` (contract §5.4)."""
        if self._need_sid:
            self.checker.check(
                "WS-DIALECT-002",
                sid is not UNSET,
                expected="a top-level streamSid",
                actual="present" if sid is not UNSET else "absent",
                seq=seq,
                at_ns=at_ns,
            )

    def _start(self, message: m.Start, at_ns: int) -> None:
        check = self.checker.check
        body = message.start
        self.settle()  # a second start may change the frame size
        self._next_seq = 0
        self._sequence(message.sequence_number, at_ns)
        self.start_ns = at_ns
        self._wire_sid = body.stream_sid
        self.stream_sid = self.checker.subject = self._bounded(body.stream_sid, at_ns)
        self.account_sid = self._bounded(body.account_sid, at_ns)
        self.call_sid = (
            self._bounded(body.call_sid, at_ns) if body.call_sid is not UNSET else ""
        )
        fmt = body.media_format
        codec = codec_by_encoding(fmt.encoding, fmt.sample_rate)
        if codec is None and len(fmt.encoding) > MAX_CODEC_CHARS:
            self._exceed("encoding", at_ns)
        self.codec = codec or f"{_cut(fmt.encoding, MAX_CODEC_CHARS)}@{fmt.sample_rate}"
        params = self._parameters(body, at_ns)
        exp = self.expectation = Expectation.from_parameters(params)
        announced = body.tracks
        if len(announced) > MAX_TRACKS or any(
            len(t) > MAX_KEY_CHARS for t in announced
        ):
            self._exceed("tracks", at_ns)
            announced = [t for t in announced if len(t) <= MAX_KEY_CHARS][:MAX_TRACKS]
        self._start_facts = (
            ",".join(announced),
            f"{fmt.encoding};{fmt.sample_rate};{fmt.channels}",
            fingerprint(params.items()),
            params.get(PARAM_NAME, ""),
        )
        wanted = exp.codec if exp and exp.codec in CODEC_NAMES else None
        # Payloads are judged against the codec requested when it is known: a
        # wrong mediaFormat is WS-START-001's finding, not every frame's.
        framing = wanted or codec
        self._frame_bytes = get_codec(framing).frame_bytes if framing else 0
        check(
            "WS-START-001",
            codec is not None
            and fmt.channels == 1
            and (wanted is None or codec == wanted),
            expected=f"{wanted or 'a documented codec'}, 1 channel",
            actual=f"{fmt.encoding} {fmt.sample_rate} Hz, {fmt.channels} channel(s)",
            at_ns=at_ns,
        )
        tracks = tuple(announced)
        self._judge_tracks_and_parameters(exp, tracks, params, at_ns)
        # Media tracks are judged against the Track requested when it is
        # known: a wrong start.tracks is WS-START-002's finding alone.
        requested = TRACK_MEDIA.get(exp.track) if exp is not None else None
        self.tracks = {name: TrackState() for name in requested or tracks}
        self._media_tracks = (self._media_tracks[0], tuple(self.tracks))
        self.checker.note(
            "WS-START-004", "absent" if message.stream_sid is UNSET else "present"
        )
        self._same_sid(message.stream_sid, at_ns)
        self._top_level_sid(message.stream_sid, at_ns)
        self._dialect_ids(body, at_ns)

    def _judge_tracks_and_parameters(
        self,
        exp: Expectation | None,
        tracks: tuple[str, ...],
        params: dict[str, str],
        at_ns: int,
    ) -> None:
        """WS-START-002/003: the announced tracks and the custom parameters,
        against the request when it is known (else only what the docs allow)."""
        check = self.checker.check
        if exp is not None:
            self.track = exp.track
            check(
                "WS-START-002",
                sorted(tracks) == sorted(TRACK_MEDIA.get(exp.track, ())),
                expected=list(TRACK_MEDIA.get(exp.track, ())),
                actual=list(tracks),
                at_ns=at_ns,
            )
            names = list(params)
            check(
                "WS-START-003",
                exp.matches(params),
                expected=f"{exp.n_params} parameters, then {PARAM_NAME}, "
                f"in the order sent (digest {exp.params_digest})",
                actual=f"{len(names) - 1} besides {PARAM_NAME}, which came "
                f"{names.index(PARAM_NAME) + 1} of {len(names)}",
                at_ns=at_ns,
            )
        else:
            known = tuple(sorted(tracks)) in TRACK_MEDIA.values()
            check(
                "WS-START-002",
                known,
                expected="inbound, outbound or both",
                actual=list(tracks),
                at_ns=at_ns,
            )
            self.track = next(
                (k for k, v in TRACK_MEDIA.items() if v == tuple(sorted(tracks))), ""
            )

    def _parameters(self, body: m.StartBody, at_ns: int) -> dict[str, str]:
        """start's custom parameters as read: at most :data:`MAX_PARAMS`, with
        names and values within bounds (the rest is an excess, not kept)."""
        if body.custom_parameters is UNSET:
            return {}
        params = body.custom_parameters
        if len(params) <= MAX_PARAMS and all(
            len(k) <= MAX_KEY_CHARS and len(v) <= MAX_VALUE_CHARS
            for k, v in params.items()
        ):
            return params
        self._exceed("parameters", at_ns)
        kept: dict[str, str] = {}
        for name, value in params.items():
            if len(kept) == MAX_PARAMS:
                break
            if len(value) > MAX_VALUE_CHARS:
                value = _cut(value, MAX_VALUE_CHARS)
            kept[_cut(name)] = value
        return kept

    def _dialect_ids(self, body: m.StartBody, at_ns: int) -> None:
        """WS-DIALECT-001: ids in the format of the dialect ``connected`` announced."""
        if self.dialect is None:
            return
        ids = {"streamSid": body.stream_sid}
        if body.call_sid is not UNSET:  # contract §10: undocumented for conferences
            ids["callSid"] = body.call_sid
        if self.dialect == "twilio":
            bad = [k for k, v in ids.items() if not _TWILIO_ID[k].fullmatch(v)]
        else:
            bad = [k for k, v in ids.items() if not _UUID.fullmatch(v)]
        self.checker.check(
            "WS-DIALECT-001",
            not bad,
            expected=f"{self.dialect} ids",
            actual=", ".join(f"{k} {ids[k][:40]!r}" for k in bad),
            at_ns=at_ns,
        )

    def _stop(self, message: m.Stop, at_ns: int) -> None:
        seq = self._sequence(message.sequence_number, at_ns)
        self._same_sid(message.stream_sid, at_ns, seq)
        self._top_level_sid(message.stream_sid, at_ns, seq)
        self.stop_ns = at_ns
        if self.dialect is None:
            return
        body = message.stop
        if body is UNSET:
            ok = self.dialect == "signalwire"
            actual = "no stop body"
        else:
            got = tuple(
                g if g is UNSET else _cut(g) for g in (body.account_sid, body.call_sid)
            )
            want = (self.account_sid, self.call_sid or UNSET)
            if self.dialect == "twilio":
                ok = got == want
            else:  # none documented; one that is sent must agree
                ok = all(g is UNSET or g == w for g, w in zip(got, want, strict=True))
            actual = "accountSid {}, callSid {}".format(
                *("absent" if g is UNSET else repr(g[:40]) for g in got)
            )
        self.checker.check(
            "WS-DIALECT-003",
            ok,
            expected=(
                "stop.accountSid and stop.callSid as in start"
                if self.dialect == "twilio"
                else "no stop body, or one agreeing with start"
            ),
            actual=actual,
            seq=seq,
            at_ns=at_ns,
        )

    def _rate(
        self, track: TrackState, chunk: int, timestamp: int, seq: int, at_ns: int
    ) -> None:
        """WS-MEDIA-006's rate: called every half window (O(1), 125 chunks apart).

        "Real time" is the audio itself: each chunk is one 20 ms frame
        (WS-MEDIA-003), so a window of 250 chunks is 5 s, and its timestamps
        must advance 5 s ± 5 %. Arrival times cannot be the yardstick: jitter
        and stalls move them by seconds while the clock stays right (pacing
        is measured apart, as throughput.realtime_factor). Windows start every
        half window, so every 5 s stretch lies mostly inside a judged one.
        """
        if not track.window_due:  # the track's first in-sequence frame
            track.anchor_chunk = track.mid_chunk = chunk
            track.anchor_ts = track.mid_ts = timestamp
        elif track.anchor_chunk < track.mid_chunk:  # a whole window has passed
            span = (chunk - track.anchor_chunk) * FRAME_MS
            advance = timestamp - track.anchor_ts
            self.checker.check(
                "WS-MEDIA-006",
                abs(advance - span) <= span * RATE_TOLERANCE,
                expected=f"{span} ms ± {RATE_TOLERANCE:.0%} over chunks "
                f"{track.anchor_chunk}-{chunk} of {self._track_name(track)}",
                actual=f"{advance} ms ({advance / span:.3f}x real time)",
                seq=seq,
                at_ns=at_ns,
            )
            track.anchor_chunk, track.anchor_ts = track.mid_chunk, track.mid_ts
            track.mid_chunk, track.mid_ts = chunk, timestamp
        else:
            track.mid_chunk, track.mid_ts = chunk, timestamp
        track.window_due = chunk + RATE_WINDOW_CHUNKS // 2

    def _may_keep(self, name: str, at_ns: int) -> bool:
        """Whether media on the unknown track ``name`` gets its own state and rows."""
        _, due = self._media_tracks
        if (
            len(name) <= MAX_KEY_CHARS
            and len(self.tracks) < len(due) + MAX_EXTRA_TRACKS
        ):
            return True
        self._exceed("tracks" if len(name) <= MAX_KEY_CHARS else "name", at_ns)
        return False

    def _timestamp(
        self,
        track: TrackState,
        name: str,
        chunk: int,
        timestamp: int,
        seq: int,
        arrival_ns: int,
    ) -> None:
        """WS-MEDIA-005/006 and the rate window, for an in-sequence frame of ``track``."""
        check = self.checker.check
        nominal = (chunk - 1) * FRAME_MS
        check(
            "WS-MEDIA-005",
            abs(timestamp - nominal) <= _TIMESTAMP_SLACK_MS,
            expected=f"{nominal} ± {_TIMESTAMP_SLACK_MS}",
            actual=timestamp,
            seq=seq,
            at_ns=arrival_ns,
        )
        if track.first_offset is None:
            track.first_offset = timestamp - nominal
        first = nominal + track.first_offset
        check(
            "WS-MEDIA-006",
            abs(timestamp - first) <= TIMESTAMP_BOUND_MS,
            expected=f"{first} ± {TIMESTAMP_BOUND_MS} ({name} chunk {chunk}, "
            f"first offset {track.first_offset} ms)",
            actual=timestamp,
            seq=seq,
            at_ns=arrival_ns,
        )
        if chunk >= track.window_due:
            self._rate(track, chunk, timestamp, seq, arrival_ns)

    def _track_name(self, track: TrackState) -> str:
        return next((k for k, v in self.tracks.items() if v is track), "?")

    def _media(self, message: m.Media, arrival_ns: int, sink: RowSink) -> None:
        check = self.checker.check
        media = message.media
        seq = self._sequence(message.sequence_number, arrival_ns)
        self._same_sid(message.stream_sid, arrival_ns, seq)
        self._top_level_sid(message.stream_sid, arrival_ns, seq)
        track = self.tracks.get(media.track)
        if track is None and not self._may_keep(media.track, arrival_ns):
            # counted, not kept: no state, no row (WS-LIMIT-001 at close)
            self._media_tracks[0].add(_OTHER_TRACKS)
            check(
                "WS-MEDIA-001",
                False,
                expected=list(self.tracks),
                actual=_cut(media.track),
                seq=seq,
                at_ns=arrival_ns,
            )
            return
        self._media_tracks[0].add(media.track)
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
        expected_chunk = track.highest + 1
        track.highest = max(track.highest, chunk)
        in_sequence = check(
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
        if in_sequence:
            # a chunk out of sequence is WS-MEDIA-002's finding; its timestamp
            # cannot be judged against a counter that is itself wrong
            self._timestamp(track, media.track, chunk, timestamp, seq, arrival_ns)
        try:
            payload = binascii.a2b_base64(media.payload, strict_mode=True)
            size = len(payload)
        except (binascii.Error, ValueError):
            payload, size = b"", -1
        check(
            "WS-MEDIA-003",
            size == self._frame_bytes,
            expected=f"{self._frame_bytes} bytes of base64",
            actual=size if size >= 0 else "bad base64",
            seq=seq,
            at_ns=arrival_ns,
        )
        self._frame(track, media, seq, chunk, timestamp, payload, arrival_ns, sink)


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
