"""Real loopback peers for the platform tests: a wss receiver and an in-process platform.

Nothing is mocked: the receiver is a ``websockets`` server with the session's
throwaway certificate, the platform is the real aiohttp app on an ephemeral
port. Waits are on events with timeouts, never fixed sleeps.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import json
import socket
import time
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping
from http import HTTPStatus
from typing import IO, Any, TypeVar

import aiohttp
import msgspec
import uvloop
from aiohttp import web
from jsonschema import Draft202012Validator
from referencing import Registry as SchemaRegistry, Resource
from referencing.jsonschema import DRAFT202012
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from harness.core.api import StartStreamRequest
from harness.core.secret import Secret
from harness.io.sink import MemorySink
from harness.io.tls import TlsFiles, client_context, server_context
from harness.platform.callbacks import Callbacks
from harness.platform.core.dialect import DIALECTS
from harness.platform.core.faults import Faults
from harness.platform.core.state import Call, Conference, Registry, Stream
from harness.platform.server import Api
from harness.platform.streamer import StreamerSettings
from harness.platform.supervisor import Supervisor
from tests.conftest import data_file, seconds


__all__ = [
    "TOKEN",
    "Connection",
    "PlatformUnderTest",
    "Receiver",
    "Reply",
    "basic",
    "make_stream",
    "rows",
    "run",
    "running_platform",
    "schema_validator",
]

TOKEN = "test-api-token-not-a-real-one"
SPEC = "spec/signalwire-compat-streams.openapi.yaml"


T = TypeVar("T")


def run(main: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
    """Run one test body on uvloop (the platform's loop), bounded in time."""

    async def bounded() -> T:
        async with asyncio.timeout(seconds(timeout)):
            return await main

    return uvloop.run(bounded())


def basic(user: str, password: str) -> dict[str, str]:
    raw = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


def schema_validator(name: str) -> Draft202012Validator:
    """A validator for one component schema of the OpenAPI excerpt (JSON Schema 2020-12)."""
    doc = msgspec.yaml.decode(data_file(SPEC).read_bytes())
    resource = Resource.from_contents(doc, default_specification=DRAFT202012)
    registry: SchemaRegistry[Any] = SchemaRegistry().with_resource("urn:spec", resource)
    return Draft202012Validator(
        {"$ref": f"urn:spec#/components/schemas/{name}"},
        registry=registry,
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )


def rows(sink: MemorySink, table: str) -> list[tuple[Any, ...]]:
    return list(sink.rows[table])


def make_stream(conference_sid: str = "conf", **request: Any) -> Stream:
    request.setdefault("url", "wss://127.0.0.1:9/")
    return Stream(
        sid=str(uuid.uuid4()),
        conference_sid=conference_sid,
        call_sid=str(uuid.uuid4()),
        request=StartStreamRequest(**request),
        created_ns=time.monotonic_ns(),
        updated_s=time.time(),
    )


# -- receiver ---------------------------------------------------------------


@dataclasses.dataclass
class Connection:
    """One WebSocket connection the receiver accepted."""

    path: str
    headers: Headers
    messages: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    closed: bool = False

    def events(self) -> list[str]:
        return [m["event"] for m in self.messages]

    def media(self) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["event"] == "media"]


Reply = Callable[[dict[str, Any]], list[dict[str, Any]]]
"""What a bidirectional test receiver answers to one message it got."""


class Receiver:
    """A wss server recording every message.

    It can refuse handshakes, drop after N messages, answer messages (``reply``),
    or stop reading altogether (``stall``, with a small receive buffer so the
    sender's buffer fills within a second or two).
    """

    def __init__(
        self,
        tls: TlsFiles,
        *,
        drop_after: int | None = None,
        refuse: bool = False,
        reply: Reply | None = None,
        stall: bool = False,
    ) -> None:
        self._tls = tls
        self._drop_after = drop_after
        self._refuse = refuse
        self._reply = reply
        self._stall = stall
        self._release = asyncio.Event()
        self.connections: list[Connection] = []
        self._changed = asyncio.Event()
        self._server: Server | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        return f"wss://127.0.0.1:{port}/media"

    async def __aenter__(self) -> Receiver:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if self._stall:  # inherited by accepted sockets: a tiny TCP window
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.bind(("127.0.0.1", 0))
        self._server = await serve(
            self._handler,
            sock=sock,
            ssl=server_context(self._tls.cert_file, self._tls.key_file),
            process_request=self._process_request,
            compression=None,
            max_queue=1 if self._stall else 16,
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._release.set()
        self._server.close()
        await self._server.wait_closed()

    def _process_request(
        self, conn: ServerConnection, request: Request
    ) -> Response | None:
        if self._refuse:
            return conn.respond(HTTPStatus.FORBIDDEN, "no\n")
        return None

    async def _handler(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        conn = Connection(ws.request.path, ws.request.headers)
        self.connections.append(conn)
        self._changed.set()
        if self._stall:  # never read: the sender's writes pile up
            await self._release.wait()
            conn.closed = True
            ws.transport.abort()  # paused reading never sees the peer go
            return
        try:
            async for raw in ws:
                message = json.loads(raw)
                conn.messages.append(message)
                self._changed.set()
                if self._reply is not None:
                    for answer in self._reply(message):
                        await ws.send(json.dumps(answer))
                if (
                    self._drop_after is not None
                    and len(conn.messages) >= self._drop_after
                ):
                    await ws.close(1011, "test drop")
                    break
        finally:
            conn.closed = True
            self._changed.set()

    async def wait(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        """Wait until ``predicate()`` holds, re-checking on every message (bounded)."""
        async with asyncio.timeout(seconds(timeout)):
            while not predicate():
                self._changed.clear()
                await self._changed.wait()

    async def wait_media(
        self, index: int, frames: int, timeout: float = 10.0
    ) -> Connection:
        """Wait for connection ``index`` to have received ``frames`` media messages."""
        await self.wait(
            lambda: (
                len(self.connections) > index
                and len(self.connections[index].media()) >= frames
            ),
            timeout,
        )
        return self.connections[index]

    async def wait_closed(self, index: int, timeout: float = 10.0) -> Connection:
        await self.wait(
            lambda: len(self.connections) > index and self.connections[index].closed,
            timeout,
        )
        return self.connections[index]


# -- platform in process ----------------------------------------------------


@dataclasses.dataclass
class PlatformUnderTest:
    """The real REST app on loopback plus a client session trusting its CA."""

    base: str
    """``https://127.0.0.1:PORT`` (no prefix)."""
    account: str
    conferences: list[str]
    calls: list[str]
    supervisor: Supervisor
    sink: MemorySink
    http: aiohttp.ClientSession

    @property
    def conference(self) -> str:
        return self.conferences[0]

    def call_streams_url(
        self,
        call: str | None = None,
        *,
        prefix: str = "/api/laml/2010-04-01",
        suffix: str = "",
        sid: str | None = None,
    ) -> str:
        path = f"{self.base}{prefix}/Accounts/{self.account}/Calls/"
        path += f"{call or self.calls[0]}/Streams"
        if sid is not None:
            path += f"/{sid}"
        return path + suffix

    def streams_url(
        self,
        conference: str | None = None,
        *,
        prefix: str = "/api/laml/2010-04-01",
        suffix: str = "",
        account: str | None = None,
        sid: str | None = None,
    ) -> str:
        path = f"{self.base}{prefix}/Accounts/{account or self.account}/Conferences/"
        path += f"{conference or self.conference}/Streams"
        if sid is not None:
            path += f"/{sid}"
        return path + suffix

    async def post(
        self,
        url: str,
        data: Mapping[str, str]
        | list[tuple[str, str]]
        | bytes
        | IO[bytes]
        | None = None,
        *,
        json_body: object = None,
        headers: Mapping[str, str] | None = None,
        auth: bool = True,
    ) -> tuple[int, Any]:
        all_headers = dict(basic(self.account, TOKEN) if auth else {})
        all_headers.update(headers or {})
        kwargs: dict[str, Any] = {"headers": all_headers}
        if json_body is not None:
            kwargs["json"] = json_body
        else:
            kwargs["data"] = data
        async with self.http.post(url, **kwargs) as response:
            return response.status, await response.json(content_type=None)

    async def create(self, fields: Mapping[str, str], **kwargs: Any) -> tuple[int, Any]:
        return await self.post(self.streams_url(**kwargs), dict(fields))

    async def stop(self, sid: str, **kwargs: Any) -> tuple[int, Any]:
        return await self.post(
            self.streams_url(sid=sid, **kwargs), {"Status": "stopped"}
        )


@contextlib.asynccontextmanager
async def running_platform(
    tls: TlsFiles,
    *,
    dialect: str = "signalwire",
    conferences: int = 2,
    calls: int = 2,
    signing_key: str | None = None,
    faults: Faults | None = None,
    defects: frozenset[str] = frozenset(),
    seed: int = 0,
) -> AsyncIterator[PlatformUnderTest]:
    """Serve the platform app on an ephemeral loopback port for one test."""
    chosen = DIALECTS[dialect]
    account = chosen.new_sid("account")
    registry = Registry(
        (
            Conference(chosen.new_sid("conference"), f"c{i}", time.time())
            for i in range(conferences)
        ),
        (
            Call(chosen.new_sid("call"), "+15550001", "+15550002", time.time())
            for _ in range(calls)
        ),
    )
    sink = MemorySink()
    settings = StreamerSettings(
        account_sid=account,
        ssl=client_context(tls.ca_file),
        dialect=chosen,
        faults=faults or Faults(),
        defects=defects,
    )
    callbacks = Callbacks(
        account_sid=account,
        ssl_context=client_context(tls.ca_file),
        signature_header=chosen.signature_header,
        signing_key=Secret(signing_key) if signing_key else None,
        defects=defects,
    )
    supervisor = Supervisor(registry, settings, sink, callbacks=callbacks, seed=seed)
    runner = web.AppRunner(Api(supervisor, Secret(TOKEN)).app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(
        runner, "127.0.0.1", 0, ssl_context=server_context(tls.cert_file, tls.key_file)
    )
    await site.start()
    port = runner.addresses[0][1]
    connector = aiohttp.TCPConnector(ssl=client_context(tls.ca_file))
    try:
        async with aiohttp.ClientSession(connector=connector) as http:
            yield PlatformUnderTest(
                base=f"https://127.0.0.1:{port}",
                account=account,
                conferences=[c.sid for c in registry.conferences],
                calls=[c.sid for c in registry.calls],
                supervisor=supervisor,
                sink=sink,
                http=http,
            )
    finally:
        await runner.cleanup()
        await supervisor.shutdown(seconds(5))
        await callbacks.close(seconds(5))
