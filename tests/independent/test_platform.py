"""The second platform's HTTP API, served for real on loopback (aiohttp's test server)."""

from __future__ import annotations

import asyncio
import base64
import ssl
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from aiohttp.test_utils import TestServer

from tests.independent import contract as c
from tests.independent.platform import Platform


ACCOUNT = "0b5cf5b4-8c1c-4c57-9d5b-3f1b8a7f1e2d"
TOKEN = "unit-token-Qp4"
UNREACHABLE = "wss://127.0.0.1:9/never"
"""Port 9 (discard) is closed on loopback: the stream's dial fails at once."""

Check = Callable[[aiohttp.ClientSession, str, Platform], Awaitable[None]]


def _serve(check: Check, defects: frozenset[str] = frozenset()) -> None:
    async def main() -> None:
        platform = Platform(
            account_sid=ACCOUNT,
            api_token=TOKEN,
            conferences=2,
            defects=defects,
            ssl_context=ssl.create_default_context(),
            signing_key="",
            max_stream_s=1.0,
        )
        server = TestServer(platform.app(), host="127.0.0.1")
        await server.start_server()
        auth = base64.b64encode(f"{ACCOUNT}:{TOKEN}".encode()).decode()
        try:
            async with aiohttp.ClientSession(
                headers={"Authorization": f"Basic {auth}"}
            ) as session:
                await check(session, str(server.make_url("")).rstrip("/"), platform)
        finally:
            await platform.shutdown(timeout_s=2)
            await server.close()

    asyncio.run(main())


async def _hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Read the TLS hello and say nothing, until the client hangs up."""
    while await reader.read(4096):
        pass
    writer.close()
    await writer.wait_closed()


async def _json(response: aiohttp.ClientResponse) -> Any:
    return await response.json(content_type=None)


def _conference(platform: Platform) -> str:
    return next(
        s for s, conf in platform.conferences.items() if conf.status == "in-progress"
    )


def test_the_list_filters_by_status_on_both_prefixes() -> None:
    async def check(
        session: aiohttp.ClientSession, base: str, platform: Platform
    ) -> None:
        for prefix in ("/api/laml/2010-04-01", "/2010-04-01"):
            url = f"{base}{prefix}/Accounts/{ACCOUNT}/Conferences.json"
            async with session.get(url) as every:
                assert every.status == 200
                statuses = [d["status"] for d in (await _json(every))["conferences"]]
            assert sorted(statuses) == ["completed", "in-progress", "in-progress"]
            async with session.get(url, params={"Status": "in-progress"}) as live:
                docs = (await _json(live))["conferences"]
            assert {d["sid"] for d in docs} == {
                s
                for s, conf in platform.conferences.items()
                if conf.status == "in-progress"
            }

    _serve(check)


def test_create_and_stop_by_sid_and_by_name_with_form_and_json_bodies() -> None:
    async def check(
        session: aiohttp.ClientSession, base: str, platform: Platform
    ) -> None:
        conf = _conference(platform)
        streams = (
            f"{base}/api/laml/2010-04-01/Accounts/{ACCOUNT}/Conferences/{conf}/Streams"
        )
        async with session.post(
            streams, data={"Url": UNREACHABLE, "Name": "n1"}
        ) as made:
            assert made.status == 200
            doc = await _json(made)
        assert doc["name"] == "n1" and doc["status"] in ("queued", "in-progress")
        assert (
            doc["uri"]
            == f"/api/laml/2010-04-01/Accounts/{ACCOUNT}/Conferences/{conf}/Streams/{doc['sid']}.json"
        )
        async with session.post(streams + ".json", json={"Url": UNREACHABLE}) as made:
            assert made.status == 200
            unnamed = await _json(made)
        assert unnamed["name"] is None
        async with session.post(f"{streams}/n1", data={"Status": "stopped"}) as stop:
            assert stop.status == 200
            stopped = await _json(stop)
        assert stopped["sid"] == doc["sid"] and stopped["status"] == "stopped"
        async with session.post(
            f"{streams}/{unnamed['sid']}.json", data={"Status": "stopped"}
        ) as stop:
            assert (await _json(stop))["status"] == "stopped"
        async with session.post(
            f"{streams}/{c.new_sid()}", data={"Status": "stopped"}
        ) as gone:
            assert gone.status == 404 and (await _json(gone))["code"] == 20404

    _serve(check)


def test_refusals_have_the_documented_codes() -> None:
    async def check(
        session: aiohttp.ClientSession, base: str, platform: Platform
    ) -> None:
        conf = _conference(platform)
        api = f"{base}/api/laml/2010-04-01/Accounts/{ACCOUNT}"
        streams = f"{api}/Conferences/{conf}/Streams"
        async with session.post(
            streams, data={"Url": UNREACHABLE}, headers={"Authorization": "Basic eDp5"}
        ) as bad:
            assert bad.status == 401 and (await _json(bad))["code"] == 20003
        async with session.post(
            f"{api}/Conferences/{c.new_sid()}/Streams", data={"Url": UNREACHABLE}
        ) as unknown:
            assert unknown.status == 404 and (await _json(unknown))["code"] == 20404
        ended = next(
            s
            for s, conf in platform.conferences.items()
            if conf.status != "in-progress"
        )
        async with session.post(
            f"{api}/Conferences/{ended}/Streams", data={"Url": UNREACHABLE}
        ) as over:
            assert over.status == 400 and (await _json(over))["code"] == 21220
        # a receiver that accepts TCP and never answers keeps the stream dialling
        silent = await asyncio.start_server(_hold, "127.0.0.1", 0)
        port = silent.sockets[0].getsockname()[1]
        live = {"Url": f"wss://127.0.0.1:{port}/s", "Name": "dup"}
        try:
            async with session.post(streams, data=live) as first:
                assert first.status == 200
            async with session.post(streams, data=live) as twice:
                assert twice.status == 422 and "errors" in await _json(twice)
            async with session.post(
                f"{streams}/dup", data={"Status": "in-progress"}
            ) as wrong:
                assert wrong.status == 422
        finally:
            silent.close()
            await platform.shutdown(timeout_s=0.5)
            await silent.wait_closed()

    _serve(check)


def test_the_error_shape_defect_breaks_404_bodies_only() -> None:
    async def check(
        session: aiohttp.ClientSession, base: str, platform: Platform
    ) -> None:
        api = f"{base}/api/laml/2010-04-01/Accounts/{ACCOUNT}"
        async with session.post(
            f"{api}/Conferences/{c.new_sid()}/Streams", data={"Url": UNREACHABLE}
        ) as unknown:
            assert unknown.status == 404
            assert "code" not in await _json(unknown)
        async with session.post(
            f"{api}/Conferences/{_conference(platform)}/Streams",
            data={"Url": "ws://x/y"},
        ) as ws:
            assert ws.status == 400 and (await _json(ws))["code"] == 31922

    _serve(check, frozenset({"error-shape-404"}))
