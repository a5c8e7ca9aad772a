"""One stream's WebSocket session: dial the receiver, send the messages, pace the media.

The platform is the WebSocket *client*: it dials the ``Url`` of the create
request (contract §5.1), sends ``connected``, ``start``, then one ``media``
message per track every 20 ms, then ``stop`` (contract §5.2). Frames are paced
against an absolute schedule, chunk k due at ``first_due + (k-1) * 20 ms``, so
one late frame never shifts the ones after it (docs/architecture.md "Measure against
the schedule"); a late frame is sent at once, never skipped. ``first_due`` is
a whole millisecond (the shared ticker's bucket size) in the least loaded of
the next 20 (:mod:`harness.platform.ticker`), so chunk 1 follows ``start`` by
at most 20 ms and the load stays even across the period.

The media are sent by the shared ticker, not by a task per stream, and written
without awaiting (:mod:`harness.platform.wsclient`: picows builds and masks
the frame straight into the transport's buffer), so a receiver that stops
reading delays nobody; its buffer is watched and the stream aborted once it
has been full for ``stall_timeout_s``.

What is sent is built by :class:`harness.core.sender.Sender`, the sans-I/O half of
a stream (messages, ``sequenceNumber``/chunk/timestamp state, the ``--defect``
switches as data, the send-log rows); this module owns the socket, the clock
and the pacing, and writes what the sender builds.

The send log (``sent_frames``) is the ground truth receivers are measured
against. ``sent_ns`` is when a frame's chunk left the media pipeline (one
clock reading per chunk, just before its frames are formatted); with ``--fault``
network impairments the frame then goes through the emulated network
(:mod:`harness.platform.core.network`) and ``wire_ns`` is when it was really written
to the socket (0 if lost). So ``arrival - sent_ns`` includes the injected delay
and jitter, and ``wire_ns - sent_ns`` is exactly what was injected. Without
network impairments ``wire_ns == sent_ns``.

Bidirectional streams (``StreamRealTime=true``) also read what the receiver
sends (contract §5.3): ``media`` is queued and played out in real time, ``mark``
is echoed when the audio before it has played (at once when none is queued),
``clear`` drops the queue and echoes its marks, and a ``dtmf`` the receiver
injects comes back as a ``dtmf`` event, as if detected on the inbound audio.
"""

from __future__ import annotations

import asyncio
import binascii
import dataclasses
import functools
import logging
import random
import ssl
import time
from typing import Literal, Protocol

import msgspec

from harness.core.codecs import FRAME_NS, ByteOrder
from harness.core.correlation import Expectation
from harness.core.messages import (
    Clear,
    Dtmf,
    DtmfBody,
    Mark,
    Reply,
    ReplyMedia,
    reply_decoder,
)
from harness.core.secret import redact
from harness.core.sender import Frame, Sender, WireDefects, payloads, with_wire
from harness.io.recorder import Recorder
from harness.io.sink import RowSink
from harness.platform.core.dialect import Dialect
from harness.platform.core.faults import Faults, StreamPlan
from harness.platform.core.network import Link
from harness.platform.core.playback import Playback
from harness.platform.core.state import Stream
from harness.platform.lane import Lane, run_bucket
from harness.platform.sendlog import SendLog
from harness.platform.ticker import Job, Ticker
from harness.platform.wsclient import InvalidStatus, WsClient, dial


__all__ = [
    "Counters",
    "EndReason",
    "StreamObserver",
    "Streamer",
    "StreamerSettings",
    "payloads",
]

log = logging.getLogger(__name__)

EndReason = Literal["stopped", "shutdown", "connect-failed", "disconnected"]
"""``platform_streams.end_reason`` (harness/core/records.py)."""


@dataclasses.dataclass(frozen=True, slots=True)
class StreamerSettings:
    """What every stream of one platform shares."""

    account_sid: str
    ssl: ssl.SSLContext
    """Client TLS context; unverified by default like ``streamSslValidateCertificate`` (contract §5.1)."""
    dialect: Dialect
    l16_byte_order: ByteOrder = "big"
    """contract §10: L16 byte order is undocumented; network order (RFC 3551) by default."""
    open_timeout_s: float = 10.0
    close_timeout_s: float = 2.0
    stop_grace_s: float = 2.0
    """How long a stop may wait on a receiver that does not read before the socket is aborted."""
    stall_timeout_s: float = 5.0
    """How long a receiver may leave the write buffer full before its stream is aborted."""
    send_buffer_bytes: int = 256 * 1024
    """``SO_SNDBUF`` of each stream's socket: bounds the memory a stalled receiver holds
    (Linux autotunes loopback buffers to ~4 MB, half a minute of L16 audio)."""
    faults: Faults = Faults()
    defects: frozenset[str] = frozenset()
    """Active ``--defect`` names (harness/platform/core/defects.py)."""


@dataclasses.dataclass(slots=True)
class Counters:
    """Platform-wide totals for the stats line."""

    frames_sent: int = 0


class StreamObserver(Protocol):
    """Who hears about a stream's life (the supervisor: registry and status callbacks)."""

    def stream_started(self, streamer: Streamer) -> None: ...

    def stream_ended(self, streamer: Streamer) -> None: ...


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
        *,
        ticker: Ticker | None = None,
        rng: random.Random | None = None,
        plan: StreamPlan | None = None,
    ) -> None:
        self.stream = stream
        self._settings = settings
        self._sink = sink
        self._counters = counters
        self._observer = observer
        self._ticker = ticker
        self._own_ticker = ticker is None
        self._plan = plan or StreamPlan()
        defects = self._defects = _wire_defects(settings.defects)
        dialect = settings.dialect
        self.sender = Sender(
            stream.sid,
            stream.call_sid,
            settings.account_sid,
            stream.request,
            dialect,
            byte_order=settings.l16_byte_order,
            defects=defects,
            other_sid=dialect.new_sid("stream") if defects.stream_sid_mismatch else "",
        )
        """The messages and the counters they carry; this class only writes them."""
        faults = settings.faults
        self._link: Link[Frame] | None = None
        if faults.network:
            self._link = Link(faults, rng or random.Random(), self._impairment)
        self._playback: Playback | None = None
        if stream.request.real_time:
            self._playback = Playback(self.sender.frame_bytes, FRAME_NS)
        self._log: Recorder | None = None
        """The recorder whose send log takes one record per chunk
        (harness/platform/sendlog.py), when this stream's frames allow it."""
        if (
            isinstance(sink, Recorder)
            and isinstance(sink.buffer, SendLog)
            and self._link is None
            and self.sender.packable
        ):
            self._log = sink
        self._log_buffer: SendLog | None = None
        self._log_key = 0
        self._general = (
            self._log is None
            or self._playback is not None
            or bool(self._plan.disconnect_chunk)
        )
        """Whether every chunk takes :meth:`tick` (no :class:`Lane`)."""
        self._lane: Lane | None = None
        """While a stream in the common case paces: its hot state, which the
        ticker's bucket pass sends from (harness/platform/lane.py)."""
        self._next_due = 0
        self._live = False
        self._paused_since = 0
        self._failure = ""
        self._stop_reason: EndReason | None = None
        self._peer_gone = False
        self._waiter: asyncio.Future[None] | None = None
        self._ws: WsClient | None = None
        self._abort_handle: asyncio.TimerHandle | None = None
        self.connected_ns = 0
        self.first_due_ns = 0
        self.stopped_ns = 0
        self.frames_sent = 0
        self.end_reason: EndReason | None = None
        """Set once the stream has ended and its record row is written."""
        self.error = ""
        self.stream_error: str | None = None
        """The ``StreamError`` word for a status callback (contract §4), when it failed."""

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
        self._halt()
        self._wake()
        ws = self._ws
        if ws is not None:
            loop = asyncio.get_running_loop()
            self._abort_handle = loop.call_later(
                self._settings.stop_grace_s, self._abort, ws
            )

    async def run(self) -> None:
        """Run the whole session; never raises for anything the receiver does."""
        if self._ticker is None:
            self._ticker = Ticker(burst=run_bucket)
        try:
            if await self._start_faults():
                ws = await self._connect()
                if ws is not None:
                    await self._stream(ws)
        finally:
            self._halt()
            if self._abort_handle is not None:
                self._abort_handle.cancel()
            if not self.done:
                # Cancelled from outside (a shutdown that ran out of time): still record it.
                if self._ws is not None:
                    self._ws.abort()
                self._finish(
                    self._stop_reason or "shutdown", "cancelled before a clean close"
                )
            if self._own_ticker:
                await self._ticker.close()

    # -- connecting ---------------------------------------------------------

    async def _start_faults(self) -> bool:
        """Apply ``start-delay`` and ``start-fail``; ``False`` if the stream ended here."""
        plan = self._plan
        if plan.start_delay_ns:
            self._impairment("", 0, "start-delay", plan.start_delay_ns)
            await self._sleep(plan.start_delay_ns / 1e9)
            if self._stop_reason is not None:
                self._finish(self._stop_reason, "stopped before the WebSocket opened")
                return False
        if plan.start_fails:
            self._impairment("", 0, "start-fail", 0)
            self._finish(
                "connect-failed",
                "injected start failure (--fault start-fail)",
                "connection_refused",
            )
            return False
        return True

    async def _sleep(self, seconds: float) -> None:
        """Sleep, or return early on :meth:`stop`."""
        loop = asyncio.get_running_loop()
        waiter = self._waiter = loop.create_future()
        handle = loop.call_later(seconds, _wake, waiter)
        try:
            await waiter
        finally:
            handle.cancel()
            self._waiter = None

    async def _connect(self) -> WsClient | None:
        request = self.stream.request
        headers = None
        if request.bearer_token is not None and not self._defects.bearer_missing:
            # contract §5.1: Authorization: Bearer, only when a token was given.
            headers = {"Authorization": f"Bearer {request.bearer_token.reveal()}"}
        loop = asyncio.get_running_loop()
        url = request.url
        settings = self._settings
        decoder = reply_decoder() if self._playback is not None else None
        on_message = functools.partial(self._reply, decoder) if decoder else None
        dialing = asyncio.ensure_future(
            dial(
                url,
                ssl_context=settings.ssl if url[:4].lower() == "wss:" else None,
                headers=headers,
                timeout_s=settings.open_timeout_s,
                send_buffer_bytes=settings.send_buffer_bytes,
                on_message=on_message,
                on_closed=self._closed,
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

    async def _stream(self, ws: WsClient) -> None:
        try:
            ws.send_text(self.sender.connected())
            ws.send_text(self.sender.start())
            if self._observer is not None:
                self._observer.stream_started(self)
            if self._stop_reason is None and not self._peer_gone:
                await self._pace()
            if self._failure:
                ws.abort()
                self._finish("disconnected", self._failure)
            elif self._stop_reason is not None and not self._peer_gone:
                await self._settle_link()
                if not ws.open:
                    self._finish(
                        self._stop_reason,
                        f"connection lost while stopping: {self._close_text(ws)}",
                    )
                    return
                for message in self.sender.closing():
                    ws.send_text(message)
                await ws.close(self._settings.close_timeout_s)
                self._finish(self._stop_reason, "")
            else:
                self._finish("disconnected", self._close_text(ws))
        except Exception as exc:  # a bug here must end this stream only, and say why
            log.exception("stream %s failed", self.stream.sid)
            self._finish(self._stop_reason or "disconnected", self._describe(exc))
        finally:
            self._halt()
            ws.abort()

    async def _pace(self) -> None:
        """Hand the media to the ticker and wait until the stream must end."""
        assert self._ticker is not None
        loop = asyncio.get_running_loop()
        ticker = self._ticker
        first_due = ticker.reserve(time.monotonic_ns())
        self.first_due_ns = self._next_due = first_due
        self._live = True
        waiter = self._waiter = loop.create_future()
        job: Job = self
        if not self._general:
            assert self._ws is not None and self._log is not None
            job = self._lane = Lane(
                self, self._ws, self.sender, self._log, self._counters, first_due
            )
        ticker.add(job, first_due)
        try:
            # Woken by stop(), the receiver leaving, or a failure in tick().
            await waiter
        finally:
            self._waiter = None
            self._halt()
            self._release_lane()
            ticker.release(first_due)

    def _halt(self) -> None:
        """The stream is no longer live: nothing more is sent from here on."""
        self._live = False
        if self._lane is not None:
            self._lane.fast = False

    def _release_lane(self) -> None:
        """Take the counters and the schedule back from the lane, for good."""
        lane = self._lane
        if lane is not None:
            self._lane = None
            lane.fast = False
            if lane.ws.lane is lane:
                lane.ws.lane = None
            self._take_back(lane)

    def _take_back(self, lane: Lane) -> None:
        """The lane's counters and schedule, back in the sender and the streamer."""
        self.frames_sent += lane.sync(self.sender)
        self._next_due = lane.due

    def tick_lane(self, lane: Lane, now_ns: int) -> int | None:
        """:meth:`tick` for this stream's lane, where the bucket pass left it: the
        counters come back for the tick and go to the lane again after."""
        if lane is not self._lane:
            return None  # the stream has stopped pacing
        self._take_back(lane)
        after = self.tick(now_ns)
        if self._lane is lane:
            lane.borrow(self.sender, self._next_due)
            # tick read the client: live means open, no pause since means draining
            lane.fast = self._live and not self._paused_since
        return after

    def lane_failed(
        self, lane: Lane, count: int, due_ns: int, sent_ns: int, exc: Exception
    ) -> None:
        """A send of the bucket pass raised: log the chunk's first ``count``
        frames, as :meth:`_send_chunk` would, and end this stream."""
        self._release_lane()  # the chunks before this one
        sender = self.sender
        seq = sender.seq + 1
        sender.chunk += 1  # the chunk was built, as media_wire builds it
        sender.seq += len(sender.wire)
        self._log_chunk(count, seq, due_ns, sent_ns)
        self._gone(self._describe(exc))

    def _log_chunk(self, count: int, seq: int, due: int, sent: int) -> None:
        """Log the first ``count`` frames of the chunk just built (a send raised)."""
        recorder = self._log
        if count and recorder is not None:
            log = self._log_buffer
            if recorder.buffer is not log:
                log = self._log_window(recorder)
            sender = self.sender
            log.chunk(
                self._log_key, count, sender.chunk, seq, due, sent, sender.frame_bytes
            )
            self.frames_sent += count
            self._counters.frames_sent += count

    def tick(self, now_ns: int) -> int | None:
        """Send what is due, in every case (pauses, emulated network, playback,
        faults); a lane's common case takes the bucket pass (harness/platform/lane.py)."""
        if not self._live:
            return None
        ws = self._ws
        assert ws is not None
        if not ws.open:
            self._gone("")
            return None
        # paused: the receiver is not reading, its buffer is over the high-water mark
        if ws.paused:
            if not self._paused_since:
                self._paused_since = now_ns
            elif now_ns - self._paused_since > self._settings.stall_timeout_s * 1e9:
                size = ws.buffered
                self._gone(
                    f"the receiver stopped reading: {size} bytes unsent for "
                    f"{self._settings.stall_timeout_s:g} s; aborted"
                )
                return None
        else:
            self._paused_since = 0
        link = self._link
        due = self._next_due
        try:
            if due <= now_ns:
                if self.sender.chunk + 1 == self._plan.disconnect_chunk:
                    self._impairment("", self.sender.chunk + 1, "disconnect", 0)
                    self._gone("injected disconnect (--fault disconnect)")
                    return None
                self._send_chunk(ws, due)
                due = self._next_due = due + FRAME_NS
            if link is None:
                return due
            frames = link.release(time.monotonic_ns())
            if frames:
                self._write_frames(ws, frames)
        except Exception as exc:  # a transport that broke under us: this stream only
            self._gone(self._describe(exc))
            return None
        released = link.next_due()
        return due if released is None or released > due else released

    def _send_chunk(self, ws: WsClient, due: int) -> None:
        """Send the chunk due at ``due`` (one frame per track) and log each frame.

        ``sent_ns`` is read once, as the chunk leaves the media pipeline; with
        the emulated network the frames go there instead of to the socket.
        """
        recorder = self._log
        if recorder is None:
            self._send_rows(ws, due)
        else:  # one send-log record for the chunk (the lane's pass packs the same)
            sender = self.sender
            sent = time.monotonic_ns()
            seq = sender.seq + 1
            messages = sender.media_wire()
            send = ws.send_text
            count = 0
            try:
                for message in messages:
                    send(message)
                    count += 1
            finally:  # a send that raised: log the frames before it, as rows would
                self._log_chunk(count, seq, due, sent)
        playback = self._playback
        if playback is not None:
            marks = playback.advance(FRAME_NS)
            if marks:
                self._echo_marks(marks)

    def _log_window(self, recorder: Recorder) -> SendLog:
        """The recorder's send log has been handed off (a new flush window): key
        this stream in the new one."""
        log = recorder.buffer
        assert isinstance(log, SendLog)
        self._log_buffer = log
        self._log_key = log.key(self.sender.sid, self.sender.track_names)
        return log

    def _send_rows(self, ws: WsClient, due: int) -> None:
        """:meth:`_send_chunk` with a send-log row per frame (defects, the emulated
        network, a sink that is not the platform's recorder)."""
        frames = self.sender.media(due, time.monotonic_ns())
        link = self._link
        if link is None:
            send = ws.send_text
            add = self._sink.add
            for message, row in frames:
                send(message)
                add("sent_frames", row)
            sent_count = len(frames)
            self.frames_sent += sent_count
            self._counters.frames_sent += sent_count
        else:
            for frame in frames:
                row = frame[1]
                if not link.push(frame, row[1], row[2], row[5]):
                    self._sink.add("sent_frames", with_wire(row, 0))

    def _write_frames(self, ws: WsClient, frames: list[tuple[Frame, bool]]) -> None:
        """Write frames released by the emulated network; log the first copy of each."""
        add = self._sink.add
        wire = time.monotonic_ns()
        send = ws.send_text
        for (message, row), first in frames:
            send(message)
            if first:
                add("sent_frames", with_wire(row, wire))
                self.frames_sent += 1
                self._counters.frames_sent += 1

    async def _settle_link(self) -> None:
        """Let the emulated network deliver what it holds, then ``stop`` follows it.

        A delay delays ``stop`` too, as on a real path; the wait is bounded by
        ``stop_grace_s``, and frames held for a swap go out last.
        """
        link = self._link
        if link is None:
            return
        last = link.last_due()
        if last is not None:
            wait_ns = last - time.monotonic_ns()
            if wait_ns > 0:
                await asyncio.sleep(min(wait_ns / 1e9, self._settings.stop_grace_s))
        self._flush_link()

    def _flush_link(self) -> None:
        """Write what the emulated network still holds, before ``stop``."""
        ws, link = self._ws, self._link
        if link is not None and ws is not None and ws.open:
            frames = link.drain()
            if frames:
                self._write_frames(ws, frames)

    def _gone(self, failure: str) -> None:
        """End the stream from inside the ticker: the peer left, or ``failure`` aborts it."""
        self._halt()
        if failure:
            self._failure = failure
        else:
            self._peer_gone = True
        self._wake()

    def _closed(self) -> None:
        """The connection has gone (its close handshake done, or lost): a peer that left ends the stream."""
        if self._stop_reason is None:
            self._peer_gone = True
            self._halt()
            self._wake()

    def _reply(self, decoder: msgspec.json.Decoder[Reply], raw: bytes) -> None:
        """Act on one receiver message (contract §5.3); a bad one is logged and dropped."""
        playback = self._playback
        assert playback is not None
        try:
            message = decoder.decode(raw)
        except msgspec.DecodeError as exc:
            log.debug("stream %s: ignored a reply: %s", self.stream.sid, exc)
            return
        match message:
            case ReplyMedia():
                try:
                    audio = binascii.a2b_base64(message.media.payload, strict_mode=True)
                except (binascii.Error, ValueError):
                    log.debug("stream %s: reply media is not base64", self.stream.sid)
                    return
                playback.media(len(audio))
            case Mark():
                self._echo_marks(playback.mark(message.mark.name))
            case Clear():
                self._echo_marks(playback.clear())
            case Dtmf():
                self._echo_dtmf(message.dtmf)

    # -- ending -------------------------------------------------------------

    def _wake(self) -> None:
        if self._waiter is not None:
            _wake(self._waiter)

    def _abort(self, ws: WsClient) -> None:
        if not self.done:
            log.warning(
                "stream %s: receiver did not take the stop in time; aborting",
                self.stream.sid,
            )
            ws.abort()

    def _impairment(self, track: str, chunk: int, kind: str, value_ns: int) -> None:
        """Log one injected event (the ``impairments`` ground truth)."""
        self._sink.add(
            "impairments",
            (self.stream.sid, track, chunk, kind, value_ns, time.monotonic_ns(), ""),
        )

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

    def _close_text(self, ws: WsClient) -> str:
        code = ws.close_code
        reason = ws.close_reason
        if code is None:
            return "the connection was lost without a close frame"
        detail = f"{code} {reason}" if reason else str(code)
        return f"the receiver closed the connection ({detail})"

    # -- answers to a bidirectional receiver (contract §5.3) -------------------

    def _echo_marks(self, names: list[str]) -> None:
        """Send each mark back (SignalWire: no sequenceNumber; Twilio: one, contract §5.4)."""
        ws = self._ws
        if not names or ws is None or not ws.open:
            return
        if self._stop_reason is not None:
            return
        for name in names:
            ws.send_text(self.sender.mark(name))

    def _echo_dtmf(self, body: DtmfBody) -> None:
        """A digit the receiver injected, reported back as detected on the inbound audio."""
        ws = self._ws
        if ws is None or not ws.open:
            return
        if self._stop_reason is not None:
            return
        ws.send_text(self.sender.dtmf(body))


@functools.cache
def _wire_defects(names: frozenset[str]) -> WireDefects:
    """The ``--defect`` names as the sender's switches, decided once per set of names."""
    return WireDefects.from_names(names)


def _stream_error(exc: BaseException) -> str:
    """Map a dial failure to the ``StreamError`` vocabulary (contract §4)."""
    if isinstance(exc, TimeoutError | ssl.SSLError):
        return "connection_refused_timeout_or_ssl_error"
    if isinstance(exc, InvalidStatus):
        return "connection_refused"
    return "connection_refused"
