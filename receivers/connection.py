"""One accepted WebSocket connection, whatever the library: stamp, feed, record the close.

Transport-independent: :mod:`receivers.transport_picows` and
:mod:`receivers.transport_websockets` each subclass :class:`Connection` with how
to close and drop their socket, and hand every complete message to
:meth:`Connection.feed` with its arrival stamp, read first (CLOCK_MONOTONIC)
so parsing never delays it. :meth:`harness.core.session.StreamSession.receive`
never raises on peer input. Whatever ends the connection (the peer's close, a
dropped socket, an oversized message, the idle sweep, shutdown), the transport
calls :meth:`Connection.finish` once with the close code, so one connection can
never take down another.

Policy on hostile input, the same on both transports: the receiver never
closes a stream for what it carries. A message that cannot be parsed (not
JSON, binary, nested too deep) is a WS-JSON-001 violation and the connection
stays open, so the rest of the stream is still measured; a value past a bound
(WS-LIMIT-001: names, tracks, parameters) is counted, not kept. Only these end
a connection: a message larger than ``--max-size`` (1009, a fragmented one
counted whole), a text message that is not UTF-8 (1007), a broken frame
(1002), an error of our own (1011, logged) and the idle sweep
(:data:`IDLE_CLOSE_CODE`).
"""

from __future__ import annotations

import logging
import time
from typing import Final

from harness.core.records import RowSink
from harness.core.session import StreamSession


__all__ = [
    "ABNORMAL_CLOSURE",
    "IDLE_CLOSE_CODE",
    "INTERNAL_ERROR",
    "NO_STATUS_RCVD",
    "Connection",
]

logger = logging.getLogger("receivers.connection")

IDLE_CLOSE_CODE: Final = 4408
"""Sent when a connection stays silent past the idle timeout (RFC 6455 §7.4.2
private range; 408 as in HTTP Request Timeout), so records tell it apart."""
ABNORMAL_CLOSURE: Final = 1006
"""Recorded when the socket ended without a close frame either way (RFC 6455 §7.4.1)."""
NO_STATUS_RCVD: Final = 1005
"""Recorded for a close frame that carried no code (RFC 6455 §7.4.1)."""
INTERNAL_ERROR: Final = 1011
"""Sent when handling a message failed on our side (a bug costs one stream)."""


class Connection:
    """Drive one :class:`StreamSession` from one upgraded connection.

    Args:
        sink: where the session puts its rows.
        bearer_ok: the handshake's token check, ``None`` when none is configured.
        tls: whether the connection came over TLS; ``None`` behind a TLS
            terminator, where the plain hop says nothing about what the
            platform dialed (WS-HANDSHAKE-002 is then not checked).
    """

    __slots__ = ("last_ns", "session", "shutdown", "sink")

    def __init__(
        self,
        sink: RowSink,
        *,
        bearer_ok: bool | None,
        tls: bool | None,
    ) -> None:
        now = time.monotonic_ns()
        self.session = StreamSession(now, bearer_ok=bearer_ok, tls=tls)
        self.sink = sink
        self.last_ns = now
        """Arrival of the latest message (or the accept): the idle sweep reads it."""
        self.shutdown = False
        """The receiver is closing this connection because it shuts down."""

    def feed(self, message: str | bytes, arrival_ns: int) -> None:
        """One complete message, stamped on arrival (may raise only on a bug)."""
        self.session.receive(message, arrival_ns, self.sink)
        self.last_ns = arrival_ns

    def failed(self) -> None:
        """Log a bug met while handling this connection's message (the stream ends 1011)."""
        logger.exception("receiving on %s failed", self.session.subject)

    def finish(self, code: int | None) -> None:
        """Record the stream's row and rule outcomes (idempotent, never raises)."""
        try:
            self.session.close(
                time.monotonic_ns(), code, self.sink, shutdown=self.shutdown
            )
        except Exception:  # the core promises not to; guard anyway
            logger.exception("recording %s failed", self.session.subject)

    def expire(self) -> None:
        """Close for idleness with :data:`IDLE_CLOSE_CODE`; the transport records the code."""
        raise NotImplementedError

    def drop(self) -> None:
        """Drop the socket now, unread data included (shutdown past its timeout)."""
        raise NotImplementedError
