"""Status callbacks into a real HTTPS endpoint (contract §4)."""

from __future__ import annotations

import asyncio
import base64
import datetime
import hashlib
import hmac
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from aiohttp import web

from harness.io.tls import TlsFiles, server_context
from harness.platform.callbacks import callback_params
from tests.conftest import seconds
from tests.harness.platform.support import Receiver, make_stream, run, running_platform


KEY = "signing-key-for-tests"


@dataclass
class Hit:
    method: str
    url: str
    params: dict[str, str]
    headers: dict[str, str]


@dataclass
class Collector:
    url: str
    hits: list[Hit] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def wait(self, count: int) -> list[Hit]:
        async with asyncio.timeout(seconds(10)):
            while len(self.hits) < count:
                self.changed.clear()
                await self.changed.wait()
        return self.hits


@asynccontextmanager
async def collector(tls: TlsFiles) -> AsyncIterator[Collector]:
    """An HTTPS endpoint recording every status callback."""
    box: list[Collector] = []

    async def handle(request: web.Request) -> web.Response:
        form = await request.post() if request.method == "POST" else request.query
        params = {k: str(v) for k, v in form.items()}
        box[0].hits.append(
            Hit(request.method, str(request.url), params, dict(request.headers))
        )
        box[0].changed.set()
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_route("*", "/cb", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(
        runner, "127.0.0.1", 0, ssl_context=server_context(tls.cert_file, tls.key_file)
    )
    await site.start()
    box.append(Collector(f"https://127.0.0.1:{runner.addresses[0][1]}/cb"))
    try:
        yield box[0]
    finally:
        await runner.cleanup()


def expected_signature(url: str, params: dict[str, str] | None) -> str:
    data = url + "".join(k + v for k, v in sorted((params or {}).items()))
    return base64.b64encode(
        hmac.new(KEY.encode(), data.encode(), hashlib.sha1).digest()
    ).decode()


def test_started_then_stopped_signed_post(tls_files: TlsFiles) -> None:
    async def main() -> None:
        async with (
            Receiver(tls_files) as receiver,
            collector(tls_files) as cb,
            running_platform(tls_files, signing_key=KEY) as p,
        ):
            status, body = await p.create(
                {
                    "Url": receiver.url,
                    "StatusCallback": cb.url,
                    "Track": "inbound_track",
                }
            )
            assert status == 200
            await receiver.wait_media(0, 1)
            await p.stop(body["sid"])
            started, stopped = await cb.wait(2)
        for hit, event in ((started, "stream-started"), (stopped, "stream-stopped")):
            assert hit.method == "POST"
            params = hit.params
            assert params["StreamEvent"] == event
            assert params["AccountSid"] == p.account
            assert params["ConferenceSid"] == p.conference
            assert params["StreamSid"] == params["StreamName"] == body["sid"]
            assert params["StreamTrack"] == "inbound_track"
            assert (
                params["CallSid"]
                == receiver.connections[0].messages[1]["start"]["callSid"]
            )
            assert "StreamError" not in params
            assert (
                datetime.datetime.fromisoformat(params["Timestamp"]).tzinfo is not None
            )
            assert hit.headers["X-SignalWire-Signature"] == expected_signature(
                cb.url, params
            )

    run(main())


def test_get_puts_parameters_in_the_query(tls_files: TlsFiles) -> None:
    async def main() -> None:
        async with (
            Receiver(tls_files) as receiver,
            collector(tls_files) as cb,
            running_platform(tls_files, signing_key=KEY) as p,
        ):
            fields = {
                "Url": receiver.url,
                "Name": "named",
                "StatusCallback": cb.url,
                "StatusCallbackMethod": "GET",
            }
            assert (await p.create(fields))[0] == 200
            (hit,) = await cb.wait(1)
        assert hit.method == "GET"
        assert hit.params["StreamName"] == "named"
        assert hit.headers["X-SignalWire-Signature"] == expected_signature(
            hit.url, None
        )

    run(main())


def test_connect_failure_sends_stream_error(tls_files: TlsFiles) -> None:
    async def main() -> None:
        async with (
            Receiver(tls_files, refuse=True) as receiver,
            collector(tls_files) as cb,
            running_platform(tls_files) as p,
        ):
            assert (await p.create({"Url": receiver.url, "StatusCallback": cb.url}))[
                0
            ] == 200
            (hit,) = await cb.wait(1)
        assert hit.params["StreamEvent"] == "stream-error"
        assert hit.params["StreamError"] == "connection_refused"
        assert "X-SignalWire-Signature" not in hit.headers  # no key, no signature

    run(main())


def test_an_unreachable_callback_is_only_logged(tls_files: TlsFiles) -> None:
    async def main() -> None:
        async with collector(tls_files) as cb:
            dead = cb.url  # the endpoint goes away before the platform calls it
        async with Receiver(tls_files) as receiver, running_platform(tls_files) as p:
            status, body = await p.create({"Url": receiver.url, "StatusCallback": dead})
            assert status == 200
            await receiver.wait_media(0, 3)
            assert (await p.stop(body["sid"]))[0] == 200
            await p.supervisor.join(body["sid"])
            assert p.sink.rows["platform_streams"][0][11] == "stopped"

    run(main())


def test_stream_name_defaults_to_the_sid() -> None:
    stream = make_stream("conf", track="outbound_track")
    now = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
    params = callback_params(
        stream, account_sid="acc", event="stream-error", error="general_error", now=now
    )
    assert params == {
        "AccountSid": "acc",
        "CallSid": stream.call_sid,
        "ConferenceSid": "conf",
        "StreamSid": stream.sid,
        "StreamName": stream.sid,
        "StreamEvent": "stream-error",
        "StreamTrack": "outbound_track",
        "Timestamp": "2026-01-02T03:04:05.000+00:00",
        "StreamError": "general_error",
    }


def test_a_dropped_connection_sends_stream_error(tls_files: TlsFiles) -> None:
    async def main() -> None:
        async with (
            Receiver(tls_files, drop_after=4) as receiver,
            collector(tls_files) as cb,
            running_platform(tls_files) as p,
        ):
            fields = {"Url": receiver.url, "StatusCallback": cb.url}
            assert (await p.create(fields))[0] == 200
            started, error = await cb.wait(2)
        assert started.params["StreamEvent"] == "stream-started"
        assert error.params["StreamEvent"] == "stream-error"
        assert error.params["StreamError"] == "general_error"

    run(main())


def test_call_stream_callbacks_have_no_conference(tls_files: TlsFiles) -> None:
    async def main() -> None:
        async with (
            Receiver(tls_files) as receiver,
            collector(tls_files) as cb,
            running_platform(tls_files) as p,
        ):
            fields = {"Url": receiver.url, "StatusCallback": cb.url}
            status, body = await p.post(p.call_streams_url(), fields)
            assert status == 200
            (hit,) = await cb.wait(1)
        assert hit.params["CallSid"] == p.calls[0]
        assert hit.params["StreamSid"] == body["sid"]
        assert "ConferenceSid" not in hit.params

    run(main())


def test_callback_defects(tls_files: TlsFiles) -> None:
    async def main() -> None:
        defects = frozenset({"callback-unsigned", "callback-order"})
        async with (
            Receiver(tls_files) as receiver,
            collector(tls_files) as cb,
            running_platform(tls_files, signing_key=KEY, defects=defects) as p,
        ):
            fields = {"Url": receiver.url, "StatusCallback": cb.url}
            status, body = await p.create(fields)
            await receiver.wait_media(0, 1)
            assert cb.hits == []  # stream-started is held back
            await p.stop(body["sid"])
            first, second = await cb.wait(2)
        assert [first.params["StreamEvent"], second.params["StreamEvent"]] == [
            "stream-stopped",
            "stream-started",
        ]
        assert "X-SignalWire-Signature" not in first.headers | second.headers

    run(main())
