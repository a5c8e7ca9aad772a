"""``--transport websockets``: the receiver on the websockets library (asyncio).

Kept selectable beside picows (the default): a well-known pure-Python
implementation to compare against, and a fallback. Each accepted connection
is a task that awaits ``recv`` per message; the handshake policy is
:meth:`receivers.server.Receiver.admit`, answered through websockets'
``process_request``. On shutdown websockets itself sends 1001 to open
connections and 503 to half-open ones.
"""

from __future__ import annotations

import asyncio
import time

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from receivers.connection import (
    ABNORMAL_CLOSURE,
    IDLE_CLOSE_CODE,
    INTERNAL_ERROR,
    Connection,
)
from receivers.server import OPEN_TIMEOUT_S, Receiver


__all__ = ["WebsocketsConnection", "close_code", "listen"]


def close_code(exc: ConnectionClosed) -> int:
    """The code that ended the connection: the peer's, else ours, else 1006."""
    if exc.rcvd is not None:
        return exc.rcvd.code
    if exc.sent is not None:
        return exc.sent.code
    return ABNORMAL_CLOSURE


class WebsocketsConnection(Connection):
    """A :class:`Connection` read by one task awaiting ``recv``."""

    __slots__ = ("_closing", "ws")

    def __init__(self, ws: ServerConnection, receiver: Receiver) -> None:
        check_tls = receiver.ssl_context is not None
        tls = ws.transport.get_extra_info("ssl_object") is not None
        super().__init__(
            receiver.sink,
            bearer_ok=receiver.bearer_ok,
            tls=tls if check_tls else None,
        )
        self.ws = ws
        self._closing: asyncio.Task[None] | None = None

    async def run(self) -> None:
        """Receive until the connection ends, then record the stream; never raises."""
        recv = self.ws.recv
        receive = self.session.receive
        sink = self.sink
        clock = time.monotonic_ns
        code: int | None = None
        try:
            while True:
                message = await recv()
                now = clock()
                receive(message, now, sink)
                self.last_ns = now
        except ConnectionClosed as exc:
            code = close_code(exc)
        except Exception:  # a bug here must cost only this stream
            self.failed()
            code = INTERNAL_ERROR
            self.finish(code)
            await self.ws.close(code, "receiver error")
        finally:
            # CancelledError (a forced shutdown) also lands here, with no code.
            self.finish(code)

    def expire(self) -> None:
        """Close for idleness; :meth:`run` records the code.

        The task is kept on the connection so it lives until it is done.
        """
        if self._closing is None:
            closing = self.ws.close(IDLE_CLOSE_CODE, "idle timeout")
            self._closing = asyncio.get_running_loop().create_task(closing)

    def drop(self) -> None:
        self.ws.transport.abort()


class _Listening:
    def __init__(self, server: Server) -> None:
        self.server = server
        self.port: int = server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        self.server.close()  # 1001 to open connections, 503 to half-open ones
        await self.server.wait_closed()


async def listen(receiver: Receiver) -> _Listening:
    """Serve ``receiver`` on websockets.

    Raises:
        OSError: the address cannot be bound.
    """
    cfg = receiver.config

    def process_request(
        connection: ServerConnection, request: Request
    ) -> Response | None:
        try:
            peer = str(connection.remote_address[0])
        except (OSError, TypeError, IndexError):
            peer = "?"
        refusal = receiver.admit(
            request.path,
            request.headers.get_all("Authorization"),
            receiver.client(peer, request.headers),
        )
        if refusal is None:
            return None
        response = connection.respond(refusal.status, refusal.body)
        for name, value in refusal.headers:
            response.headers[name] = value
        return response

    async def handle(ws: ServerConnection) -> None:
        conn = WebsocketsConnection(ws, receiver)
        receiver.accept(conn)
        try:
            await conn.run()
        finally:
            receiver.release(conn)

    server = await serve(
        handle,
        cfg.host,
        cfg.port,
        ssl=receiver.ssl_context,
        process_request=process_request,
        compression=None,  # media is base64 audio: deflate costs CPU for little
        max_size=cfg.max_size,
        ping_interval=cfg.ping_interval,
        close_timeout=cfg.close_timeout,
        open_timeout=OPEN_TIMEOUT_S,
        reuse_port=cfg.reuse_port,
        **receiver.tls_options(),
    )
    return _Listening(server)
