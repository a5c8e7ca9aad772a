"""``--transport picows`` (the default): the receiver on picows with aiofastnet's TLS.

picows parses frames and unmasks them in Cython and calls back per frame; no
task per connection, no queue, no await per message. Measured in the same
run as websockets (docs/performance.md, the receiver section), the same checks
and records hold about twice the streams per core. The platform's sender uses
the same library (:mod:`harness.platform.wsclient`).

picows leaves to the application what websockets does itself, so this module
does it, to the same effect as :mod:`receivers.transport_websockets`:

* the handshake policy: the listener factory sees the upgrade request (path,
  headers) before the 101 and answers a refusal (:meth:`Receiver.admit`) with
  its status; no listener, no session, no frame is read for it;
* fragmented messages: reassembled, the whole bounded by ``--max-size``
  (1009); picows bounds each frame by the same size before reading it;
* text must be UTF-8 (1007, as RFC 6455 §8.1 and websockets);
* the close handshake: echo the peer's close code, then close the socket;
  a close of ours (idle 4408, shutdown 1001, an error 1011) waits
  ``close_timeout`` for the echo, then drops the socket;
* the recorded close code: the peer's, else ours, else 1006.

picows logs the upgrade request (with its Authorization header) at a debug
level, so its logger is kept at warnings: a token never reaches a log.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Final, cast

from picows import (
    WSCloseCode,
    WSFrame,
    WSListener,
    WSMsgType,
    WSProtocolError,
    WSTransport,
    WSUpgradeRequest,
    WSUpgradeResponse,
    WSUpgradeResponseWithListener,
    ws_create_server,
)

from harness.core.records import RowSink
from receivers.connection import (
    ABNORMAL_CLOSURE,
    IDLE_CLOSE_CODE,
    INTERNAL_ERROR,
    NO_STATUS_RCVD,
    Connection,
)
from receivers.server import OPEN_TIMEOUT_S, Receiver


__all__ = ["PicowsConnection", "listen"]

_clock: Final = time.monotonic_ns
_PICOWS_LOG: Final = logging.getLogger("receivers.transport_picows.picows")
_PICOWS_LOG.setLevel(logging.WARNING)

_TEXT: Final = WSMsgType.TEXT
_BINARY: Final = WSMsgType.BINARY
_CONTINUATION: Final = WSMsgType.CONTINUATION
_CLOSE: Final = WSMsgType.CLOSE
_UNSENDABLE: Final = frozenset({0, 1005, 1006, 1015})
"""Close codes a close frame may not carry (RFC 6455 §7.4.1): echoed as 1000."""


class PicowsConnection(Connection):
    """A :class:`Connection` fed by picows' per-frame callbacks."""

    __slots__ = ("_close_timeout", "_timer", "transport")

    def __init__(self, transport: WSTransport, receiver: Receiver) -> None:
        check_tls = receiver.ssl_context is not None
        super().__init__(
            receiver.sink,
            bearer_ok=receiver.bearer_ok,
            tls=transport.is_secure if check_tls else None,
        )
        self.transport = transport
        self._close_timeout = receiver.config.close_timeout
        self._timer: asyncio.TimerHandle | None = None

    def close(self, code: int, reason: str) -> None:
        """Send our close frame (once) and drop the socket if no echo comes in time."""
        transport = self.transport
        if transport.is_disconnected:
            return
        if not transport.is_close_frame_sent:
            transport.send_close(WSCloseCode(code), reason.encode())
        if self._timer is None:
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(self._close_timeout, self.drop)

    def expire(self) -> None:
        self.close(IDLE_CLOSE_CODE, "idle timeout")

    def drop(self) -> None:
        if not self.transport.is_disconnected:
            self.transport.disconnect(graceful=False)

    def ended(self) -> int:
        """Stop the close timer; the code that ended it: the peer's, else ours, else 1006."""
        if self._timer is not None:
            self._timer.cancel()
        handshake = self.transport.close_handshake
        if handshake is None:
            return ABNORMAL_CLOSURE
        if handshake.recv is not None:
            return handshake.recv.code.value or NO_STATUS_RCVD
        if handshake.sent is not None:
            return handshake.sent.code.value
        return ABNORMAL_CLOSURE


def _unfed(text: str, now: int, sink: RowSink) -> None:
    """Stands in for a session's ``receive`` before the connection is accepted."""


class _Listener(WSListener):
    """picows' callbacks for one admitted upgrade (never raise but to close).

    :meth:`on_ws_frame` runs once per message: what it needs is kept in slots
    of its own (the connection being fed, its session's ``receive`` and sink),
    a few attribute lookups fewer per message (issue 14).
    """

    __slots__ = (
        "_feeding",
        "_max_size",
        "_parts",
        "_parts_size",
        "_parts_text",
        "_receive",
        "_sink",
        "conn",
        "receiver",
    )

    def __init__(self, receiver: Receiver) -> None:
        super().__init__()
        self.receiver = receiver
        self.conn: PicowsConnection | None = None
        self._feeding: PicowsConnection | None = None
        """:attr:`conn` while its messages are fed; ``None`` before it is
        accepted and once an error of ours ended the stream."""
        self._receive: Callable[[str, int, RowSink], None] = _unfed
        """The session's ``receive`` once accepted (never called before)."""
        self._sink: RowSink = receiver.sink
        self._parts: list[bytes] | None = None
        """Fragments of a message still arriving, else ``None``."""
        self._parts_text = False
        self._parts_size = 0
        self._max_size = receiver.config.max_size

    def on_ws_connected(self, transport: WSTransport) -> None:
        conn = self.conn = self._feeding = PicowsConnection(transport, self.receiver)
        self._receive, self._sink = conn.session.receive, conn.sink
        self.receiver.accept(conn)

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        now = _clock()  # first: parsing never delays the stamp
        conn = self._feeding
        if conn is None:
            if frame.msg_type is _CLOSE:  # the echo of our failing close
                transport.disconnect()
            return
        if frame.payload_size > self._max_size:
            # picows refused it (1009) on its header, yet hands it over whole
            # once read: RFC 6455 §7.1.7, process nothing more
            self._feeding = None
            return
        if frame.msg_type is _TEXT and frame.fin and self._parts is None:
            try:
                text = frame.get_payload_as_utf8_text()
            except UnicodeDecodeError:
                self._feeding = None
                raise WSProtocolError(WSCloseCode.INVALID_TEXT, "not UTF-8") from None
            try:
                self._receive(text, now, self._sink)
            except Exception:  # a bug here must cost only this stream
                self._fail(conn)
            conn.last_ns = now
            return
        self._other(transport, frame, now, conn)

    def _other(
        self, transport: WSTransport, frame: WSFrame, now: int, conn: PicowsConnection
    ) -> None:
        """Everything but a whole text message: fragments, binary, close."""
        kind = frame.msg_type
        if kind is _CLOSE:
            if not transport.is_close_frame_sent:  # the peer's: echo its code
                code = frame.get_close_code().value
                conn.close(1000 if code in _UNSENDABLE else code, "")
            transport.disconnect()
            return
        if kind is not _TEXT and kind is not _BINARY and kind is not _CONTINUATION:
            return  # ping (answered by picows) or pong
        if (kind is _CONTINUATION) is (self._parts is None):
            self._feeding = None
            raise WSProtocolError(WSCloseCode.PROTOCOL_ERROR, "bad fragmentation")
        self._parts_size += frame.payload_size
        if self._parts_size > self._max_size:
            self._feeding = None
            raise WSProtocolError(WSCloseCode.MESSAGE_TOO_BIG, "message too big")
        if kind is not _CONTINUATION:
            self._parts, self._parts_text = [], kind is _TEXT
        assert self._parts is not None
        self._parts.append(frame.get_payload_as_bytes())
        if not frame.fin:
            return
        data, text = b"".join(self._parts), self._parts_text
        self._parts, self._parts_size = None, 0
        message: str | bytes = data
        if text:
            try:
                message = data.decode()
            except UnicodeDecodeError:
                self._feeding = None
                raise WSProtocolError(WSCloseCode.INVALID_TEXT, "not UTF-8") from None
        try:
            conn.feed(message, now)
        except Exception:
            self._fail(conn)

    def _fail(self, conn: PicowsConnection) -> None:
        conn.failed()
        self._feeding = None
        conn.finish(INTERNAL_ERROR)
        conn.close(INTERNAL_ERROR, "receiver error")

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        conn = self.conn
        if conn is not None:
            conn.finish(conn.ended())
            self.receiver.release(conn)


class _Listening:
    def __init__(self, server: asyncio.AbstractServer, receiver: Receiver) -> None:
        self.server = server
        self.receiver = receiver
        self.port: int = cast(asyncio.Server, server).sockets[0].getsockname()[1]

    async def close(self) -> None:
        self.server.close()  # later upgrades get 503 (Receiver.admit)
        conns = [c for c in list(self.receiver.open) if isinstance(c, PicowsConnection)]
        for conn in conns:
            conn.close(1001, "")
        await asyncio.gather(*(c.transport.wait_disconnected() for c in conns))


async def listen(receiver: Receiver) -> _Listening:
    """Serve ``receiver`` on picows.

    Raises:
        OSError: the address cannot be bound.
    """
    cfg = receiver.config

    def admit(
        request: WSUpgradeRequest,
    ) -> WSListener | WSUpgradeResponseWithListener:
        headers = request.headers
        refusal = receiver.admit(
            request.path.decode("latin-1"),
            headers.getall("Authorization", []),
            # picows shows the factory no socket: a proxy's header is all there is
            receiver.client(None, headers),
        )
        if refusal is None:
            return _Listener(receiver)
        response = WSUpgradeResponse.create_error_response(
            refusal.status, refusal.body.encode(), refusal.headers
        )
        return WSUpgradeResponseWithListener(response, None)

    server = await ws_create_server(
        admit,
        cfg.host,
        cfg.port,
        ssl=receiver.ssl_context,
        reuse_port=cfg.reuse_port or None,
        websocket_handshake_timeout=OPEN_TIMEOUT_S,
        max_frame_size=cfg.max_size,
        enable_auto_ping=cfg.ping_interval is not None,
        auto_ping_idle_timeout=cfg.ping_interval or 20.0,
        auto_ping_reply_timeout=cfg.ping_interval or 20.0,
        logger_name=_PICOWS_LOG,
        **receiver.tls_options(),
    )
    return _Listening(server, receiver)
