"""The wss server the platform dials: handshake policy, live connections, counts.

Transport-independent: the WebSocket library (``--transport``) only frames
bytes. :mod:`receivers.transport_picows` (the default: picows with aiofastnet's
TLS, about twice the streams per core) and :mod:`receivers.transport_websockets`
each listen, ask :meth:`Receiver.admit` whether to upgrade, and drive one
:class:`receivers.connection.Connection` per accepted stream; everything else
(the bearer check, counts, the idle sweep, shutdown, the records) lives here
and in :mod:`receivers.connection`, once.

The handshake admits only the configured path (404 otherwise) and, when a
bearer token is configured, only an upgrade whose ``Authorization: Bearer``
equals it (401 otherwise, contract §5.1). A refusal happens before any session
exists, so it is counted here and recorded as a ``WS-HANDSHAKE-001`` failure of
the ``handshake`` subject; admitted connections check the same rule in their
session.
"""

from __future__ import annotations

import asyncio
import dataclasses
import http
import importlib
import logging
import ssl
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final, Protocol

from harness.core.checks_io import checker_rows
from harness.core.records import RowSink
from harness.core.rules import Checker
from harness.core.secret import Secret
from harness.core.transitions import State
from harness.core.transports import DEFAULT_TRANSPORT, TRANSPORTS
from harness.io.deploy import forwarded_client, local_url


if TYPE_CHECKING:
    from receivers.connection import Connection


__all__ = [
    "DEFAULT_TRANSPORT",
    "HANDSHAKE_SUBJECT",
    "TRANSPORTS",
    "Listening",
    "Receiver",
    "Refusal",
    "ServerConfig",
]

logger = logging.getLogger("receivers.server")

HANDSHAKE_SUBJECT = "handshake"
"""Subject of the refused handshakes' ``WS-HANDSHAKE-001`` outcomes."""
OPEN_TIMEOUT_S: Final = 10.0
"""Seconds a connection may take from accept to upgrade (TLS included): a peer
that opens a socket and says nothing is dropped (websockets' ``open_timeout``)."""


@dataclasses.dataclass(frozen=True, slots=True)
class ServerConfig:
    """How one receiver listens and whom it lets in."""

    host: str = "127.0.0.1"
    port: int = 0
    """0 picks a free port."""
    path: str = "/stream"
    """The only request path accepted (a query string is ignored)."""
    max_size: int = 1_048_576
    """Largest message accepted; a bigger one closes the connection with 1009."""
    idle_timeout: float = 30.0
    """Seconds without a message before a connection is closed (code 4408)."""
    token: Secret | None = None
    """Expected bearer token; ``None`` accepts any upgrade (and checks nothing)."""
    reuse_port: bool = False
    """SO_REUSEPORT, so several receiver processes share one port."""
    ping_interval: float | None = None
    """Keepalive pings; off by default, the idle timeout catches dead peers."""
    close_timeout: float = 5.0
    """Seconds to wait for the peer's close frame before dropping the socket."""
    behind_proxy: bool = False
    """A TLS terminator forwards to us: log the client it names (never trust it)."""
    transport: str = DEFAULT_TRANSPORT
    """One of :data:`TRANSPORTS`."""


@dataclasses.dataclass(frozen=True, slots=True)
class Refusal:
    """The HTTP answer to an upgrade that is not admitted."""

    status: int
    body: str
    headers: tuple[tuple[str, str], ...] = ()


class Listening(Protocol):
    """What a transport's :func:`listen` gives back: its port and a way to stop."""

    port: int

    async def close(self) -> None:
        """Stop accepting, close open connections with 1001 and wait for them."""


class Receiver:
    """Serve wss connections, each driving one stream session into ``sink``.

    Args:
        config: listening address, handshake policy and transport.
        ssl_context: the server's TLS context; ``None`` serves plain ws, for
            use behind a TLS terminator (WS-HANDSHAKE-002 is then not checked
            here: the terminator holds the TLS the platform saw).
        sink: where sessions put their rows; called on the loop only.
    """

    def __init__(
        self,
        config: ServerConfig,
        ssl_context: ssl.SSLContext | None,
        sink: RowSink,
    ) -> None:
        if config.transport not in TRANSPORTS:
            raise ValueError(f"unknown transport {config.transport!r}")
        self.config = config
        self.ssl_context = ssl_context
        self.sink = sink
        self.handshake = Checker(HANDSHAKE_SUBJECT)
        """Refused upgrades, by rule (evidence never holds a presented token)."""
        self.refused = 0
        self.accepted = 0
        self.open: set[Connection] = set()
        self.bearer_ok = True if config.token else None
        """What each admitted session records for WS-HANDSHAKE-001."""
        self.closing = False
        self._closed_frames = 0
        self._closed_violations = 0
        self._ended: dict[str, str] = {}
        """Sid -> codec of the streams ended since the last :meth:`codecs`."""
        self._listening: Listening | None = None
        self.url = ""
        self.port = 0
        """The port listened on, once started."""

    # -- lifecycle -------------------------------------------------------------

    async def start(self) -> str:
        """Listen and return the URL to give the platform.

        Raises:
            OSError: the address cannot be bound.
        """
        cfg = self.config
        module = importlib.import_module(f"receivers.transport_{cfg.transport}")
        self._listening = await module.listen(self)
        self.port = self._listening.port
        scheme = "ws" if self.ssl_context is None else "wss"
        self.url = local_url(scheme, cfg.host, self.port, cfg.path)
        return self.url

    async def close(self, timeout: float) -> None:
        """Stop accepting, close open connections with 1001 and record them all.

        Waits at most ``timeout`` seconds; a connection still open then is
        recorded without a close code and its socket dropped. Dropping matters
        under saturation: a peer that keeps sending fills the socket buffers
        ahead of its close frame, and reading through them (recording every
        frame) kept a saturated receiver busy for a minute after SIGTERM while
        its unwritten batch grew.
        """
        if self._listening is None:
            return
        self.closing = True
        unstopped = sum(c.session.state is not State.STOPPED for c in self.open)
        if unstopped:
            # streams the platform has not stopped yet: closed by us, so
            # WS-STOP-001 is not checked for them (StreamSession.close)
            logger.warning(
                "shutting down with %d stream(s) not stopped by the platform: "
                "closed by the receiver, WS-STOP-001 not checked for them",
                unstopped,
            )
        for conn in self.open:
            conn.shutdown = True
        try:
            async with asyncio.timeout(timeout):
                await self._listening.close()
        except TimeoutError:
            logger.warning(
                "%d connection(s) still open after %.1f s; dropped",
                len(self.open),
                timeout,
            )
        for conn in list(self.open):
            conn.finish(None)
            conn.drop()  # nothing more is read from it
            self.release(conn)

    async def sweep(self, stop: asyncio.Event) -> None:
        """Close connections idle past the timeout, until ``stop`` is set."""
        limit_ns = int(self.config.idle_timeout * 1e9)
        period = min(max(self.config.idle_timeout / 4, 0.01), 1.0)
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), timeout=period)
            except TimeoutError:
                pass
            oldest = time.monotonic_ns() - limit_ns
            for conn in list(self.open):
                if conn.last_ns < oldest:
                    conn.expire()

    def record_handshakes(self) -> None:
        """Add the refused handshakes' rule rows to the sink (once, at shutdown)."""
        if self.handshake.counts:
            for table, row in checker_rows("receiver", self.handshake):
                self.sink.add(table, row)

    # -- what transports call --------------------------------------------------

    def admit(
        self, path: str, authorization: Sequence[str], client: str
    ) -> Refusal | None:
        """Whether an upgrade to ``path`` with these ``Authorization`` values may
        go on (``None``) or the answer that refuses it. ``client`` names the peer
        in the log line; the token itself is never logged nor recorded."""
        if self.closing:
            return Refusal(http.HTTPStatus.SERVICE_UNAVAILABLE, "Shutting down.\n")
        if path.partition("?")[0] != self.config.path:
            self.refused += 1
            return Refusal(http.HTTPStatus.NOT_FOUND, "No stream here.\n")
        token = self.config.token
        if token is None:
            return None
        problem = _bearer_problem(token, list(authorization))
        if problem is None:
            return None
        self.refused += 1
        logger.warning("refused an upgrade from %s: %s", client, problem)
        self.handshake.check(
            "WS-HANDSHAKE-001",
            False,
            expected="Authorization: Bearer <the token configured>",
            actual=problem,
            at_ns=time.monotonic_ns(),
        )
        return Refusal(
            http.HTTPStatus.UNAUTHORIZED,
            "Bearer token required.\n",
            (("WWW-Authenticate", 'Bearer realm="streamload"'),),
        )

    def tls_options(self) -> dict[str, Any]:
        """The listener's TLS keywords, the same on every transport: a peer that
        opens a socket and never finishes its handshake is dropped after
        :data:`OPEN_TIMEOUT_S` (none without TLS: the loop refuses the keyword)."""
        if self.ssl_context is None:
            return {}
        return {"ssl_handshake_timeout": OPEN_TIMEOUT_S}

    def client(self, peer: str | None, headers: Mapping[str, str]) -> str:
        """Who connected, for logs: the peer, and behind a proxy the client it names.

        ``peer`` is ``None`` where the transport does not show the socket at the
        upgrade (picows' listener factory sees only the request); the line then
        says so rather than inventing an address."""
        named = forwarded_client(headers) if self.config.behind_proxy else None
        if named:
            return f"{named} (via {peer or 'the proxy'})"
        return (
            peer
            or "a peer (this transport does not name it; --transport websockets does)"
        )

    def accept(self, conn: Connection) -> None:
        """An upgraded connection starts its session."""
        self.open.add(conn)
        self.accepted += 1

    def release(self, conn: Connection) -> None:
        """A connection ended (recorded): fold its counts into the totals, once."""
        if conn in self.open:
            self.open.discard(conn)
            self._closed_frames += conn.session.frames
            self._closed_violations += conn.session.violations
            self._ended[conn.session.stream_sid] = conn.session.codec

    # -- counts ----------------------------------------------------------------

    def codecs(self) -> tuple[dict[str, str], list[str]]:
        """Each stream's codec by sid (the open ones and those ended since the
        last call), and the ended sids: what :meth:`Distributions.fold
        <receivers.distributions.Distributions.fold>` needs of the sessions."""
        ended, self._ended = self._ended, {}
        codecs = dict(ended)
        for conn in self.open:
            codecs[conn.session.stream_sid] = conn.session.codec
        return codecs, list(ended)

    def stats(self) -> dict[str, int]:
        """Counts for the stats line (open sessions are summed now, not per message)."""
        frames = self._closed_frames
        violations = self._closed_violations
        for conn in self.open:
            frames += conn.session.frames
            violations += conn.session.violations
        return {
            "streams_open": len(self.open),
            "streams_total": self.accepted,
            "frames": frames,
            "violations": violations,
            "refused": self.refused,
        }


def _bearer_problem(token: Secret, values: list[str]) -> str | None:
    """Why the Authorization header fails, or ``None`` when it carries ``token``.

    The text goes into records, so it describes the header, never its value.
    """
    if not values:
        return "no Authorization header"
    if len(values) > 1:
        return f"{len(values)} Authorization headers"
    scheme, _, credential = values[0].strip().partition(" ")
    if scheme.lower() != "bearer":
        return "not a Bearer credential"
    if not token.matches(credential.strip()):
        return "a different token"
    return None
