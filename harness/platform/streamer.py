"""One stream's WebSocket session: dial the receiver, send the messages, pace the media.

The platform is the WebSocket *client*: it dials the ``Url`` of the create
request (api.md §5.1), sends ``connected``, ``start``, then one ``media``
message per track every 20 ms, then ``stop`` (api.md §5.2). Frames are paced
against an absolute schedule, chunk k due at ``first_due + (k-1) * 20 ms``, so
one late frame never shifts the ones after it (architecture.md "Measure against
the schedule"); a late frame is sent at once, never skipped. Each frame sent is
logged with its due and send times: the ground truth receivers are measured
against.

This is one task per stream. limits.md §3 measured a shared 1 ms ticker at
+50 % streams per core; that is a later optimisation behind the same interface.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import functools
import logging
import ssl
import time
from typing import Literal, Protocol

import websockets
from msgspec import UNSET
from websockets.asyncio.client import ClientConnection, connect

from harness.api import TRACK_MEDIA
from harness.codecs import FRAME_MS, ByteOrder, get_codec
from harness.correlation import Expectation
from harness.messages import (
    Connected,
    MediaFormat,
    Start,
    StartBody,
    Stop,
    StopBody,
    encode,
    media_json,
)
from harness.platform.dialect import Dialect
from harness.platform.state import Stream
from harness.secret import redact
from harness.signal import encoded_frames
from harness.sink import RowSink


__all__ = [
    "FRAME_NS",
    "Counters",
    "EndReason",
    "StreamObserver",
    "Streamer",
    "StreamerSettings",
    "payloads",
]

log = logging.getLogger(__name__)

FRAME_NS = FRAME_MS * 1_000_000
"""api.md §5.5: one ``media`` message per track every 20 ms."""

EndReason = Literal["stopped", "shutdown", "connect-failed", "disconnected"]
"""``platform_streams.end_reason`` (harness/records.py)."""


@dataclasses.dataclass(frozen=True, slots=True)
class StreamerSettings:
    """What every stream of one platform shares."""

    account_sid: str
    ssl: ssl.SSLContext
    """Client TLS context; unverified by default like ``streamSslValidateCertificate`` (api.md §5.1)."""
    dialect: Dialect
    l16_byte_order: ByteOrder = "big"
    """api.md §10: L16 byte order is undocumented; network order (RFC 3551) by default."""
    open_timeout_s: float = 10.0
    close_timeout_s: float = 2.0
    stop_grace_s: float = 2.0
    """How long a stop may wait on a receiver that does not read before the socket is aborted."""


@dataclasses.dataclass(slots=True)
class Counters:
    """Platform-wide totals for the stats line."""

    frames_sent: int = 0


class StreamObserver(Protocol):
    """Who hears about a stream's life (the supervisor: registry and status callbacks)."""

    def stream_started(self, streamer: Streamer) -> None: ...

    def stream_ended(self, streamer: Streamer) -> None: ...


@functools.cache
def payloads(codec_name: str, byte_order: ByteOrder, track: str) -> tuple[str, ...]:
    """Base64 of the 50 test-signal frames of one codec and track, encoded once per process."""
    codec = get_codec(codec_name, byte_order)
    return tuple(
        base64.b64encode(f).decode("ascii") for f in encoded_frames(codec, track)
    )


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class Streamer:
    """Run one stream from dial to ``stop``; :meth:`stop` may come at any point."""

    def __init__(
        self,
        stream: Stream,
        settings: StreamerSettings,
        sink: RowSink,
        counters: Counters,
        observer: StreamObserver | None = None,
    ) -> None:
        self.stream = stream
        self._settings = settings
        self._sink = sink
        self._counters = counters
        self._observer = observer
        request = stream.request
        self._codec = get_codec(request.effective_codec, settings.l16_byte_order)
        self._tracks = tuple(
            (t, payloads(self._codec.name, settings.l16_byte_order, t))
            for t in TRACK_MEDIA[request.effective_track]
        )
        self._seq = 0
        self._stop_reason: EndReason | None = None
        self._peer_gone = False
        self._waiter: asyncio.Future[None] | None = None
        self._ws: ClientConnection | None = None
        self._abort_handle: asyncio.TimerHandle | None = None
        self.connected_ns = 0
        self.first_due_ns = 0
        self.stopped_ns = 0
        self.frames_sent = 0
        self.end_reason: EndReason | None = None
        """Set once the stream has ended and its record row is written."""
        self.error = ""
        self.stream_error: str | None = None
        """The ``StreamError`` word for a status callback (api.md §4), when it failed."""

    @property
    def done(self) -> bool:
        return self.end_reason is not None

    def stop(self, reason: EndReason) -> None:
        """Ask the stream to send ``stop`` and close; returns at once.

        A receiver that stops reading could hold a send forever, so after
        ``stop_grace_s`` the socket is aborted, which ends that send.
        """
        if self._stop_reason is not None or self.done:
            return
        self._stop_reason = reason
        self._wake()
        ws = self._ws
        if ws is not None:
            loop = asyncio.get_running_loop()
            self._abort_handle = loop.call_later(
                self._settings.stop_grace_s, self._abort, ws
            )

    async def run(self) -> None:
        """Run the whole session; never raises for anything the receiver does."""
        try:
            ws = await self._connect()
            if ws is not None:
                await self._stream(ws)
        finally:
            if self._abort_handle is not None:
                self._abort_handle.cancel()
            if not self.done:
                # Cancelled from outside (a shutdown that ran out of time): still record it.
                if self._ws is not None:
                    self._ws.transport.abort()
                self._finish(
                    self._stop_reason or "shutdown", "cancelled before a clean close"
                )

    # -- connecting ---------------------------------------------------------

    async def _connect(self) -> ClientConnection | None:
        request = self.stream.request
        headers = None
        if request.bearer_token is not None:
            # api.md §5.1: Authorization: Bearer, only when a token was given.
            headers = {"Authorization": f"Bearer {request.bearer_token.reveal()}"}
        loop = asyncio.get_running_loop()
        dialing = asyncio.ensure_future(
            connect(
                request.url,
                ssl=self._settings.ssl,
                additional_headers=headers,
                compression=None,
                open_timeout=self._settings.open_timeout_s,
                close_timeout=self._settings.close_timeout_s,
                proxy=None,
            )
        )
        waiter = self._waiter = loop.create_future()
        dialing.add_done_callback(lambda _: _wake(waiter))
        try:
            await waiter  # woken by the dial's end or by stop()
        finally:
            self._waiter = None
            if not dialing.done():
                dialing.cancel()
        if not dialing.done() or dialing.cancelled():
            assert self._stop_reason is not None
            self._finish(self._stop_reason, "stopped before the WebSocket opened")
            return None
        exc = dialing.exception()
        if exc is not None:
            self._finish("connect-failed", self._describe(exc), _stream_error(exc))
            return None
        ws = dialing.result()
        self._ws = ws
        self.connected_ns = time.monotonic_ns()
        if self._stop_reason is not None:
            self._abort_handle = loop.call_later(
                self._settings.stop_grace_s, self._abort, ws
            )
        return ws

    # -- streaming ----------------------------------------------------------

    async def _stream(self, ws: ClientConnection) -> None:
        reader = asyncio.create_task(self._drain(ws))
        try:
            await ws.send(self._connected_json())
            await ws.send(self._start_json())
            if self._observer is not None:
                self._observer.stream_started(self)
            await self._pace(ws)
            if self._stop_reason is not None and not self._peer_gone:
                await ws.send(self._stop_json())
                await ws.close()
                self._finish(self._stop_reason, "")
            else:
                self._finish("disconnected", self._close_text(ws))
        except websockets.ConnectionClosed as exc:
            if self._stop_reason is not None:
                self._finish(
                    self._stop_reason,
                    f"connection lost while stopping: {self._describe(exc)}",
                )
            else:
                self._finish("disconnected", self._close_text(ws))
        except Exception as exc:  # a bug here must end this stream only, and say why
            log.exception("stream %s failed", self.stream.sid)
            self._finish(self._stop_reason or "disconnected", self._describe(exc))
        finally:
            reader.cancel()
            if not self.done or ws.state is not websockets.State.CLOSED:
                ws.transport.abort()

    async def _pace(self, ws: ClientConnection) -> None:
        # Hot path: locals, one preformatted string per message (messages.media_json).
        send = ws.send
        add = self._sink.add
        counters = self._counters
        sid = self.stream.sid
        top_sid = sid if self._settings.dialect.top_level_stream_sid else None
        frame_bytes = self._codec.frame_bytes
        tracks = self._tracks
        seq = self._seq
        first_due = self.first_due_ns = time.monotonic_ns()
        chunk = 0
        while self._stop_reason is None and not self._peer_gone:
            due = first_due + chunk * FRAME_NS
            if time.monotonic_ns() < due:
                await self._sleep_until(due)
                if self._stop_reason is not None or self._peer_gone:
                    break
            chunk += 1
            timestamp = (chunk - 1) * FRAME_MS
            index = (chunk - 1) % len(tracks[0][1])
            for track, frames in tracks:  # api.md §5.2: chunk counts per track
                seq += 1
                message = media_json(
                    seq, track, chunk, timestamp, frames[index], top_sid
                )
                sent = time.monotonic_ns()
                await send(message)
                self._seq = seq
                add("sent_frames", (sid, track, chunk, seq, due, sent, frame_bytes))
                self.frames_sent += 1
                counters.frames_sent += 1

    async def _sleep_until(self, due_ns: int) -> None:
        """Sleep until ``due_ns`` or a stop, whichever is first; never return early.

        uvloop timers have 1 ms resolution and fire up to ~0.5 ms early
        (limits.md §3), so re-check the clock and sleep again for the rest.
        """
        loop = asyncio.get_running_loop()
        while (now := time.monotonic_ns()) < due_ns:
            if self._stop_reason is not None or self._peer_gone:
                return
            waiter = self._waiter = loop.create_future()
            handle = loop.call_later((due_ns - now) / 1e9, _wake, waiter)
            try:
                await waiter
            finally:
                handle.cancel()
                self._waiter = None

    async def _drain(self, ws: ClientConnection) -> None:
        """Read and drop what the receiver sends, so its pongs and close are seen at once."""
        try:
            async for _ in ws:
                pass  # api.md §5.3 replies: playback is not modelled yet
        except websockets.ConnectionClosed:
            pass
        if self._stop_reason is None:
            self._peer_gone = True
            self._wake()

    # -- ending -------------------------------------------------------------

    def _wake(self) -> None:
        if self._waiter is not None:
            _wake(self._waiter)

    def _abort(self, ws: ClientConnection) -> None:
        if not self.done:
            log.warning(
                "stream %s: receiver did not take the stop in time; aborting",
                self.stream.sid,
            )
            ws.transport.abort()

    def _finish(
        self, reason: EndReason, error: str, stream_error: str | None = None
    ) -> None:
        self.end_reason = reason
        self.error = error
        self.stream_error = stream_error
        self.stopped_ns = time.monotonic_ns()
        stream = self.stream
        request = stream.request
        expectation = Expectation.from_parameters(dict(request.parameters))
        self._sink.add(
            "platform_streams",
            (
                stream.sid,
                stream.conference_sid,
                expectation.request_id if expectation is not None else "",
                request.effective_codec,
                request.effective_track,
                len(request.parameters),
                stream.created_ns,
                self.connected_ns,
                self.first_due_ns,
                self.stopped_ns,
                self.frames_sent,
                reason,
                error,
            ),
        )
        if reason in ("connect-failed", "disconnected"):
            log.warning("stream %s ended: %s: %s", stream.sid, reason, error)
        else:
            log.debug("stream %s ended: %s", stream.sid, reason)
        if self._observer is not None:
            self._observer.stream_ended(self)

    def _describe(self, exc: BaseException) -> str:
        text = str(exc) or type(exc).__name__
        token = self.stream.request.bearer_token
        return redact(f"{type(exc).__name__}: {text}", token)

    def _close_text(self, ws: ClientConnection) -> str:
        code = ws.close_code
        reason = ws.close_reason or ""
        if code is None:
            return "the connection was lost without a close frame"
        detail = f"{code} {reason}" if reason else str(code)
        return f"the receiver closed the connection ({detail})"

    # -- messages (api.md §5.2; Twilio variants §5.4) ------------------------

    def _connected_json(self) -> str:
        # A text frame: str, not bytes (bytes would go out as a binary frame).
        return encode(
            Connected(protocol="Call", version=self._settings.dialect.version)
        ).decode()

    def _start_json(self) -> str:
        stream = self.stream
        parameters = dict(stream.request.parameters)
        self._seq = 1
        message = Start(
            sequence_number="1",
            start=StartBody(
                stream_sid=stream.sid,
                account_sid=self._settings.account_sid,
                call_sid=stream.call_sid,
                tracks=[t for t, _ in self._tracks],
                # api.md §5.2: "Only present when custom parameters are defined."
                custom_parameters=parameters if parameters else UNSET,
                media_format=MediaFormat(
                    encoding=self._codec.encoding,
                    sample_rate=self._codec.sample_rate,
                    channels=1,
                ),
            ),
            stream_sid=stream.sid
            if self._settings.dialect.top_level_stream_sid
            else UNSET,
        )
        return encode(message).decode()

    def _stop_json(self) -> str:
        self._seq += 1
        dialect = self._settings.dialect
        body = StopBody(
            account_sid=self._settings.account_sid, call_sid=self.stream.call_sid
        )
        message = Stop(
            sequence_number=str(self._seq),
            stop=body if dialect.stop_body else UNSET,
            stream_sid=self.stream.sid if dialect.top_level_stream_sid else UNSET,
        )
        return encode(message).decode()


def _stream_error(exc: BaseException) -> str:
    """Map a dial failure to the ``StreamError`` vocabulary (api.md §4)."""
    if isinstance(exc, TimeoutError | ssl.SSLError):
        return "connection_refused_timeout_or_ssl_error"
    return "connection_refused"
