"""One accepted WebSocket connection: read, stamp, feed the session, record the close.

The loop is the receiver's hot path: per message it awaits ``recv``, reads the
clock first (so parsing never delays the stamp) and hands the text to
:meth:`harness.core.session.StreamSession.receive`, which never raises on peer input.
Whatever ends the connection (the peer's close, a dropped socket, an oversized
frame, the idle sweep, shutdown), :meth:`Connection.run` records the stream once
and returns without raising, so one connection can never take down another.

Policy on hostile input: the receiver never closes a stream for what it
carries. A message that cannot be parsed (not JSON, binary, nested too deep)
is a WS-JSON-001 violation and the connection stays open, so the rest of the
stream is still measured; a value past a bound (WS-LIMIT-001: names, tracks,
parameters) is counted, not kept. Only a message larger than ``--max-size``
ends the connection (1009, by the WebSocket library), as does the idle sweep
(:data:`IDLE_CLOSE_CODE`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Final

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.frames import CloseCode

from harness.core.records import RowSink
from harness.core.session import StreamSession
from receivers.distributions import Distributions, FrameTap


__all__ = ["IDLE_CLOSE_CODE", "Connection", "close_code"]

logger = logging.getLogger("receivers.connection")

IDLE_CLOSE_CODE: Final = 4408
"""Sent when a connection stays silent past the idle timeout (RFC 6455 §7.4.2
private range; 408 as in HTTP Request Timeout), so records tell it apart."""


def close_code(exc: ConnectionClosed) -> int:
    """The code that ended the connection: the peer's, else ours, else 1006."""
    if exc.rcvd is not None:
        return exc.rcvd.code
    if exc.sent is not None:
        return exc.sent.code
    return CloseCode.ABNORMAL_CLOSURE


class Connection:
    """Drive one :class:`StreamSession` from one server connection.

    Args:
        ws: the accepted connection.
        sink: where the session puts its rows.
        bearer_ok: the handshake's token check, ``None`` when none is configured.
        dist: the receiver's histograms, fed from this connection's frame rows.
        check_tls: check WS-HANDSHAKE-002 (wss); off behind a TLS terminator,
            where the plain hop says nothing about what the platform dialed.
    """

    __slots__ = ("_closing", "last_ns", "session", "sink", "ws")

    def __init__(
        self,
        ws: ServerConnection,
        sink: RowSink,
        *,
        bearer_ok: bool | None,
        dist: Distributions | None = None,
        check_tls: bool = True,
    ) -> None:
        now = time.monotonic_ns()
        self.ws = ws
        tls = (
            ws.transport.get_extra_info("ssl_object") is not None if check_tls else None
        )
        self.session = StreamSession(now, bearer_ok=bearer_ok, tls=tls)
        self.sink: RowSink = (
            sink if dist is None else FrameTap(sink, dist, self.session)
        )
        self.last_ns = now
        """Arrival of the latest message (or the accept): the idle sweep reads it."""
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
            logger.exception("receiving on %s failed", self.session.subject)
            code = CloseCode.INTERNAL_ERROR
            self.finish(code)
            await self.ws.close(code, "receiver error")
        finally:
            # CancelledError (a forced shutdown) also lands here, with no code.
            self.finish(code)

    def finish(self, code: int | None) -> None:
        """Record the stream's row and rule outcomes (idempotent, never raises)."""
        try:
            self.session.close(time.monotonic_ns(), code, self.sink)
        except Exception:  # the core promises not to; guard anyway
            logger.exception("recording %s failed", self.session.subject)

    def expire(self) -> None:
        """Close the connection for idleness; :meth:`run` records the code.

        The task is kept on the connection so it lives until it is done.
        """
        if self._closing is None:
            closing = self.ws.close(IDLE_CLOSE_CODE, "idle timeout")
            self._closing = asyncio.get_running_loop().create_task(closing)
