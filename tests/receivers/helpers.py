"""Shared pieces for receiver tests: valid streams, a loopback receiver, a client."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import ssl
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pyarrow.parquet as pq
import uvloop
from websockets.asyncio.client import ClientConnection, connect

from harness.core.codecs import get_codec
from harness.core.correlation import PARAM_NAME, Expectation, digest
from harness.core.messages import media_json
from harness.core.records import MemorySink, columns
from harness.io.tls import TlsFiles, client_context, server_context
from receivers.server import TRANSPORTS, Receiver, ServerConfig
from tests.conftest import seconds


__all__ = [
    "TRANSPORTS",
    "client",
    "read_table",
    "row_dicts",
    "run_async",
    "serving",
    "stream_messages",
    "wait_for",
]

T = TypeVar("T")

ENCODINGS = {"PCMU": ("audio/x-mulaw", 8000), "L16@16000h": ("audio/x-L16", 16000)}


def run_async(factory: Callable[[], Coroutine[Any, Any, T]], timeout: float = 20) -> T:
    """Run one test coroutine on uvloop, bounded in time."""

    async def bounded() -> T:
        async with asyncio.timeout(seconds(timeout)):
            return await factory()

    return uvloop.run(bounded())


def stream_messages(
    frames: int = 5,
    *,
    codec: str = "PCMU",
    track: str = "inbound_track",
    sid: str | None = None,
    params: dict[str, str] | None = None,
    stop: bool = True,
) -> tuple[str, list[str]]:
    """A valid stream (connected, start, media x frames per track, stop) and its sid."""
    sid = sid or str(uuid.uuid4())
    others = dict(params or {})
    exp = Expectation(
        run_id="run-1",
        request_id=f"req-{sid[:8]}",
        codec=codec,
        track=track,
        n_params=len(others),
        params_digest=digest(others.items()),
    )
    encoding, rate = ENCODINGS[codec]
    tracks = {"inbound_track": ["inbound"], "outbound_track": ["outbound"]}.get(
        track, ["inbound", "outbound"]
    )
    start = {
        "event": "start",
        "sequenceNumber": "1",
        "start": {
            "streamSid": sid,
            "accountSid": str(uuid.uuid4()),
            "callSid": str(uuid.uuid4()),
            "tracks": tracks,
            "customParameters": {**others, PARAM_NAME: exp.encode()},
            "mediaFormat": {"encoding": encoding, "sampleRate": rate, "channels": 1},
        },
    }
    payload = base64.b64encode(bytes(get_codec(codec).frame_bytes)).decode()
    out = [
        json.dumps({"event": "connected", "protocol": "Call", "version": "0.2.0"}),
        json.dumps(start),
    ]
    seq = 2
    for chunk in range(1, frames + 1):
        for name in tracks:
            out.append(media_json(seq, name, chunk, (chunk - 1) * 20, payload))
            seq += 1
    if stop:
        out.append(json.dumps({"event": "stop", "sequenceNumber": str(seq)}))
    return sid, out


def client(url: str, tls: TlsFiles, **kwargs: Any) -> connect:
    """A websockets client that trusts the test CA (no keepalive, short close)."""
    kwargs.setdefault("ping_interval", None)
    kwargs.setdefault("close_timeout", 2)
    kwargs.setdefault("open_timeout", seconds(5))
    return connect(url, ssl=client_context(tls.ca_file), compression=None, **kwargs)


async def send_all(ws: ClientConnection, messages: list[str]) -> None:
    for message in messages:
        await ws.send(message)


@contextlib.asynccontextmanager
async def serving(
    tls: TlsFiles, sink: MemorySink | None = None, **config: Any
) -> AsyncIterator[tuple[Receiver, MemorySink, asyncio.Event]]:
    """A started receiver on loopback with its idle sweep; closed on exit.

    ``config`` are :class:`ServerConfig` fields, ``transport`` among them
    (tests parametrize it over :data:`TRANSPORTS` with the ``transport`` fixture).
    """
    sink = sink if sink is not None else MemorySink()
    ctx: ssl.SSLContext = server_context(tls.cert_file, tls.key_file)
    receiver = Receiver(ServerConfig(**config), ctx, sink)
    await receiver.start()
    stop = asyncio.Event()
    sweep = asyncio.create_task(receiver.sweep(stop))
    try:
        yield receiver, sink, stop
    finally:
        stop.set()
        await receiver.close(timeout=seconds(5))
        await sweep


async def wait_for(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    """Poll ``predicate`` on the loop until true, failing after ``timeout``."""
    async with asyncio.timeout(seconds(timeout)):
        while not predicate():
            await asyncio.sleep(0.005)


def row_dicts(sink: MemorySink, table: str) -> list[dict[str, Any]]:
    names = columns(table)
    return [dict(zip(names, row, strict=True)) for row in sink.rows[table]]


def read_table(run_dir: Path, table: str) -> list[dict[str, Any]]:
    """Every row of ``table`` under ``run_dir/records`` (all parts), via pyarrow."""
    directory = run_dir / "records" / table
    if not directory.exists():
        return []
    rows: list[dict[str, Any]] = []
    for part in sorted(directory.glob("*.parquet")):
        rows.extend(pq.read_table(part).to_pylist())
    return rows
