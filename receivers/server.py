"""The wss server the platform dials: handshake policy, live connections, counts.

The handshake admits only the configured path (404 otherwise) and, when a
bearer token is configured, only an upgrade whose ``Authorization: Bearer``
equals it (401 otherwise, contract §5.1). A refusal happens before any session
exists, so it is counted here and recorded as a ``WS-HANDSHAKE-001`` failure of
the ``handshake`` subject; admitted connections check the same rule in their
session. Everything per message lives in :mod:`receivers.connection`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import http
import logging
import ssl
import time

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.http11 import Request, Response

from harness.core.checks_io import checker_rows
from harness.core.records import RowSink
from harness.core.rules import Checker
from harness.core.secret import Secret
from harness.io.deploy import forwarded_client, local_url
from receivers.connection import Connection
from receivers.distributions import Distributions


__all__ = ["HANDSHAKE_SUBJECT", "Receiver", "ServerConfig"]

logger = logging.getLogger("receivers.server")

HANDSHAKE_SUBJECT = "handshake"
"""Subject of the refused handshakes' ``WS-HANDSHAKE-001`` outcomes."""


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


class Receiver:
    """Serve wss connections, each driving one stream session into ``sink``.

    Args:
        config: listening address and handshake policy.
        ssl_context: the server's TLS context; ``None`` serves plain ws, for
            use behind a TLS terminator (WS-HANDSHAKE-002 is then not checked
            here: the terminator holds the TLS the platform saw).
        sink: where sessions put their rows; called on the loop only.
        dist: per-codec/track histograms fed by every connection, if kept.
    """

    def __init__(
        self,
        config: ServerConfig,
        ssl_context: ssl.SSLContext | None,
        sink: RowSink,
        dist: Distributions | None = None,
    ) -> None:
        self.config = config
        self.ssl_context = ssl_context
        self.sink = sink
        self.dist = dist
        self.handshake = Checker(HANDSHAKE_SUBJECT)
        """Refused upgrades, by rule (evidence never holds a presented token)."""
        self.refused = 0
        self.accepted = 0
        self.open: set[Connection] = set()
        self._closed_frames = 0
        self._closed_violations = 0
        self._bearer_ok = True if config.token else None
        self._server: Server | None = None
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
        self._server = await serve(
            self._handle,
            cfg.host,
            cfg.port,
            ssl=self.ssl_context,
            process_request=self._process_request,
            compression=None,  # media is base64 audio: deflate costs CPU for little
            max_size=cfg.max_size,
            ping_interval=cfg.ping_interval,
            close_timeout=cfg.close_timeout,
            reuse_port=cfg.reuse_port,
        )
        self.port = port = self._server.sockets[0].getsockname()[1]
        scheme = "ws" if self.ssl_context is None else "wss"
        self.url = local_url(scheme, cfg.host, port, cfg.path)
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
        if self._server is None:
            return
        self._server.close()  # 1001 to open connections, 503 to half-open ones
        try:
            async with asyncio.timeout(timeout):
                await self._server.wait_closed()
        except TimeoutError:
            logger.warning(
                "%d connection(s) still open after %.1f s; dropped",
                len(self.open),
                timeout,
            )
        for conn in list(self.open):
            conn.finish(None)
            conn.ws.transport.abort()  # nothing more is read from it

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
            for conn in self.open:
                if conn.last_ns < oldest:
                    conn.expire()

    def record_handshakes(self) -> None:
        """Add the refused handshakes' rule rows to the sink (once, at shutdown)."""
        if self.handshake.counts:
            for table, row in checker_rows("receiver", self.handshake):
                self.sink.add(table, row)

    # -- counts ----------------------------------------------------------------

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

    # -- websockets callbacks --------------------------------------------------

    def _process_request(
        self, connection: ServerConnection, request: Request
    ) -> Response | None:
        """Admit the configured path and, when one is set, the bearer token."""
        if request.path.partition("?")[0] != self.config.path:
            self.refused += 1
            return connection.respond(http.HTTPStatus.NOT_FOUND, "No stream here.\n")
        token = self.config.token
        if token is None:
            return None
        problem = _bearer_problem(token, request.headers.get_all("Authorization"))
        if problem is None:
            return None
        self.refused += 1
        logger.warning(
            "refused an upgrade from %s: %s",
            _client(connection, request, self.config.behind_proxy),
            problem,
        )
        self.handshake.check(
            "WS-HANDSHAKE-001",
            False,
            expected="Authorization: Bearer <the token configured>",
            actual=problem,
            at_ns=time.monotonic_ns(),
        )
        response = connection.respond(
            http.HTTPStatus.UNAUTHORIZED, "Bearer token required.\n"
        )
        response.headers["WWW-Authenticate"] = 'Bearer realm="streamload"'
        return response

    async def _handle(self, ws: ServerConnection) -> None:
        conn = Connection(
            ws,
            self.sink,
            bearer_ok=self._bearer_ok,
            dist=self.dist,
            check_tls=self.ssl_context is not None,
        )
        self.open.add(conn)
        self.accepted += 1
        try:
            await conn.run()
        finally:
            self.open.discard(conn)
            self._closed_frames += conn.session.frames
            self._closed_violations += conn.session.violations


def _client(connection: ServerConnection, request: Request, behind_proxy: bool) -> str:
    """Who connected, for logs: the peer, and behind a proxy the client it names."""
    try:
        peer = str(connection.remote_address[0])
    except (OSError, TypeError, IndexError):
        peer = "?"
    client = forwarded_client(request.headers) if behind_proxy else None
    return f"{client} (via {peer})" if client else peer


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
