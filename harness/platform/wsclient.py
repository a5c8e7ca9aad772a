"""The platform's end of one stream's WebSocket: a picows client with plain, synchronous sends.

docs/performance.md §3: a websockets sender paces ~750 streams per core on a shared
ticker; picows (frame building and client masking in Cython, aiofastnet's
TLS transport) paces 2,000 at |err| p99 1.44 ms. So the media path is
picows, with aiofastnet on (its default) and TLS, which also kept the loop
responsive under load where picows on uvloop's own transports starved it.

:class:`WsClient` keeps what the streamer needs and picows leaves to the
application: the close handshake (echo the peer's close, then disconnect),
whether the connection is still open for sending, the write-buffer pause
state (a receiver that stopped reading), and replies reassembled from
fragments. Sends never await: a frame goes straight into the transport's
buffer, so one stalled receiver delays nobody.

:func:`dial` bounds the whole opening (TCP, TLS, upgrade) by one timeout and
describes a refused upgrade the way websockets did (``InvalidStatus: server
rejected WebSocket connection: HTTP 403``), so records keep their wording.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import picows
from picows import WSCloseCode, WSFrame, WSMsgType, WSTransport


if TYPE_CHECKING:
    from harness.platform.lane import Lane


__all__ = ["TEXT", "InvalidStatus", "WsClient", "dial"]

_PICOWS_LOG = logging.getLogger("harness.platform.wsclient.picows")
# picows logs an INFO line per connection and, at its level 9, the upgrade
# request with its Authorization header: keep it to warnings (secrets never logged).
_PICOWS_LOG.setLevel(logging.WARNING)

WRITE_LIMIT = 32 * 1024
"""Write-buffer high-water mark: websockets' default, so a stall is detected as before."""
PING_INTERVAL_S = 20.0
"""Keepalive like websockets' default: a ping every 20 s, closed without a pong in 20 s."""

TEXT = WSMsgType.TEXT
"""The frame type of :attr:`WsClient.send_frame` for text."""

OnMessage = Callable[[bytes], None]
OnClosed = Callable[[], None]


class InvalidStatus(ConnectionError):
    """The receiver answered the upgrade with something other than 101 (contract §5.1)."""

    def __init__(self, status: int) -> None:
        super().__init__(f"server rejected WebSocket connection: HTTP {status}")
        self.status = status


def _not_open(kind: WSMsgType, message: str | bytes) -> None:
    raise RuntimeError("send before the WebSocket opened")


class WsClient(picows.WSListener):
    """One open client connection; callbacks run on the event loop, never await."""

    __slots__ = (
        "_fragments",
        "_on_closed",
        "_on_message",
        "disconnected",
        "lane",
        "open",
        "paused",
        "send_frame",
        "transport",
    )
    # slots, and the lane told of a close or a pause instead of reading
    # ``open`` and ``paused`` once a frame: on a core where TLS and the kernel
    # evict the pacing pass's objects, each object it touches counts
    # (harness/platform/lane.py)

    def __init__(self, on_message: OnMessage | None, on_closed: OnClosed) -> None:
        super().__init__()
        self._on_message = on_message
        self._on_closed = on_closed
        self._fragments: list[bytes] | None = None
        self.transport: WSTransport | None = None
        self.send_frame: Callable[[WSMsgType, str | bytes], None] = _not_open
        """The transport's own ``send(kind, message)``: :meth:`send_text` without
        its Python frame, for the media hot path (``send_frame(TEXT, text)``)."""
        self.open = False
        """True from the upgrade until a close frame is sent or received, or the socket goes."""
        self.paused = False
        """The transport's buffer is over :data:`WRITE_LIMIT` (the receiver is not keeping up)."""
        self.disconnected = False
        self.lane: Lane | None = None
        """The pacing lane sending on this connection, if any: it leaves the bucket
        pass (:attr:`Lane.fast` cleared) when the connection closes or pauses."""

    def _lane_off(self) -> None:
        """Send the lane, if any, to its streamer's ``tick``, which reads ``open``
        and ``paused`` and decides (a close, a stall)."""
        lane = self.lane
        if lane is not None:
            lane.fast = False

    # -- picows callbacks -----------------------------------------------------

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.transport = transport
        self.send_frame = transport.send
        transport.underlying_transport.set_write_buffer_limits(high=WRITE_LIMIT)
        self.open = True

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        kind = frame.msg_type
        if kind is WSMsgType.TEXT or kind is WSMsgType.BINARY:
            if frame.fin and self._fragments is None:
                if self._on_message is not None:
                    self._on_message(frame.get_payload_as_bytes())
            else:
                self._fragments = [frame.get_payload_as_bytes()]
        elif kind is WSMsgType.CONTINUATION:
            if self._fragments is not None:
                self._fragments.append(frame.get_payload_as_bytes())
                if frame.fin:
                    message = b"".join(self._fragments)
                    self._fragments = None
                    if self._on_message is not None:
                        self._on_message(message)
        elif kind is WSMsgType.CLOSE:
            # RFC 6455 §5.5.1: answer with the same code, then the TCP close follows.
            self.open = False
            self._lane_off()
            if not transport.is_close_frame_sent:
                code = frame.get_close_code()
                transport.send_close(
                    code if code is not WSCloseCode.NO_INFO else WSCloseCode.OK
                )
            transport.disconnect()

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        self.open = False
        self._lane_off()
        self.disconnected = True
        self._on_closed()

    def pause_writing(self) -> None:
        self.paused = True
        self._lane_off()

    def resume_writing(self) -> None:
        self.paused = False

    # -- what the streamer uses -------------------------------------------------

    def send_text(self, message: str | bytes) -> None:
        """Queue one text frame (masked by picows); dropped once the connection is closing."""
        assert self.transport is not None
        self.transport.send(WSMsgType.TEXT, message)

    @property
    def buffered(self) -> int:
        """Bytes waiting in the transport's write buffer."""
        assert self.transport is not None
        size: int = self.transport.underlying_transport.get_write_buffer_size()
        return size

    @property
    def close_code(self) -> int | None:
        """The code of the receiver's close frame, ``None`` if it sent none."""
        recv = self._received_close()
        return None if recv is None else recv.code.value

    @property
    def close_reason(self) -> str:
        recv = self._received_close()
        return "" if recv is None else recv.reason

    def _received_close(self) -> picows.picows.WSCloseInfo | None:
        handshake = self.transport.close_handshake if self.transport else None
        return None if handshake is None else handshake.recv

    async def close(self, timeout_s: float) -> bool:
        """Send a normal close and wait for the receiver's; abort after ``timeout_s``.

        Returns whether the close handshake completed (False: aborted or already gone).
        """
        transport = self.transport
        assert transport is not None
        if self.disconnected:
            return False
        if not transport.is_close_frame_sent:
            transport.send_close(WSCloseCode.OK)
        self.open = False
        self._lane_off()
        try:
            async with asyncio.timeout(timeout_s):
                await transport.wait_disconnected()
        except TimeoutError:
            self.abort()
            return False
        return self._received_close() is not None

    def abort(self) -> None:
        """Drop the connection now, unsent data included."""
        self.open = False
        self._lane_off()
        if self.transport is not None and not self.disconnected:
            self.transport.disconnect(graceful=False)


async def dial(
    url: str,
    *,
    ssl_context: ssl.SSLContext | None,
    headers: Mapping[str, str] | None,
    timeout_s: float,
    send_buffer_bytes: int,
    on_message: OnMessage | None,
    on_closed: OnClosed,
) -> WsClient:
    """Open a WebSocket to ``url``; raises what went wrong, the connection closed on any failure.

    ``send_buffer_bytes`` sets ``SO_SNDBUF`` before connecting (0 leaves the kernel's).
    A cancelled or timed-out dial shuts its socket down, so no half-open
    connection outlives it (picows offers no handle on one mid-upgrade).
    """
    loop = asyncio.get_running_loop()
    own: list[socket.socket] = []

    async def connect_socket(parsed: picows.WSParsedURL) -> socket.socket:
        infos = await loop.getaddrinfo(
            parsed.host, parsed.port, type=socket.SOCK_STREAM
        )
        error: OSError = OSError(f"no address for {parsed.host}")
        for family, kind, proto, _, address in infos:
            sock = socket.socket(family, kind, proto)
            try:
                sock.setblocking(False)
                if send_buffer_bytes:
                    sock.setsockopt(
                        socket.SOL_SOCKET, socket.SO_SNDBUF, send_buffer_bytes
                    )
                await loop.sock_connect(sock, address)
            except OSError as exc:
                sock.close()
                error = exc
                continue
            except BaseException:
                sock.close()
                raise
            own.append(sock)
            return sock
        raise error

    def listener() -> WsClient:
        return WsClient(on_message, on_closed)

    try:
        async with asyncio.timeout(timeout_s):
            transport, client = await picows.ws_connect(
                listener,
                url,
                ssl_context=ssl_context,
                websocket_handshake_timeout=timeout_s,
                logger_name=_PICOWS_LOG,
                enable_auto_ping=True,
                auto_ping_idle_timeout=PING_INTERVAL_S,
                auto_ping_reply_timeout=PING_INTERVAL_S,
                auto_ping_strategy=picows.WSAutoPingStrategy.PING_PERIODICALLY,
                extra_headers=headers,
                max_redirects=0,
                socket_factory=connect_socket,
            )
    except picows.WSInvalidStatusError as exc:
        _shut(own)
        status = exc.response.status if exc.response is not None else 0
        raise InvalidStatus(int(status)) from None
    except BaseException:
        _shut(own)
        raise
    if not isinstance(client, WsClient) or transport.is_disconnected:
        # The receiver hung up mid-upgrade (e.g. a wss-only server dialled with ws://).
        _shut(own)
        raise ConnectionError("the connection closed during the WebSocket handshake")
    return client


def _shut(socks: list[socket.socket]) -> None:
    """Make a transport that owns one of ``socks`` see the end (it closes the socket itself)."""
    for sock in socks:
        if sock.fileno() != -1:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
