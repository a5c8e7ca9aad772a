"""The platform's picows client against a real ``websockets`` server on loopback.

websockets refuses unmasked client frames and checks the close handshake, so
these also prove picows frames what the streamer sends the way RFC 6455 wants.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Callable
from typing import Any

import pytest

from harness.io.tls import TlsFiles, client_context
from harness.platform.wsclient import InvalidStatus, WsClient, dial
from tests.conftest import seconds
from tests.harness.platform.support import Receiver, run


OnMessage = Callable[[bytes], None]


class _Lane:
    """What the client knows of a pacing lane (harness/platform/lane.py): its flag."""

    fast = True


def with_lane(ws: WsClient) -> _Lane:
    lane = _Lane()
    ws.lane = lane  # type: ignore[assignment]
    return lane


async def connect(
    url: str,
    tls: TlsFiles,
    *,
    on_message: OnMessage | None = None,
    closed: asyncio.Event | None = None,
    headers: dict[str, str] | None = None,
    timeout_s: float = 5.0,
) -> WsClient:
    done = closed if closed is not None else asyncio.Event()
    return await dial(
        url,
        ssl_context=client_context(tls.ca_file),
        headers=headers,
        timeout_s=seconds(timeout_s),
        send_buffer_bytes=0,
        on_message=on_message,
        on_closed=done.set,
    )


def test_text_frames_arrive_in_order_with_the_headers(tls_files: TlsFiles) -> None:
    async def main() -> None:
        async with Receiver(tls_files) as rx:
            ws = await connect(
                rx.url, tls_files, headers={"Authorization": "Bearer t-1"}
            )
            assert ws.open and not ws.paused
            for i in range(200):
                ws.send_text(json.dumps({"event": "media", "i": i}))
            ws.send_text(json.dumps({"event": "big", "pad": "x" * 70_000}).encode())
            await rx.wait(
                lambda: (
                    len(rx.connections) == 1 and len(rx.connections[0].messages) == 201
                )
            )
            conn = rx.connections[0]
            assert [m.get("i") for m in conn.messages[:200]] == list(range(200))
            assert len(conn.messages[200]["pad"]) == 70_000
            assert conn.headers["Authorization"] == "Bearer t-1"
            assert conn.path == "/media"
            lane = with_lane(ws)
            assert await ws.close(seconds(5)) is True  # the receiver answered
            await rx.wait_closed(0)
            assert not ws.open and not lane.fast

    run(main())


def test_replies_reach_on_message_whole(tls_files: TlsFiles) -> None:
    def echo(message: dict[str, Any]) -> list[dict[str, Any]]:
        return [
            {"event": "mark", "name": message["name"], "pad": "y" * message["size"]}
        ]

    async def main() -> None:
        got: list[bytes] = []
        async with Receiver(tls_files, reply=echo) as rx:
            ws = await connect(rx.url, tls_files, on_message=got.append)
            for name, size in (("a", 0), ("b", 200), ("c", 100_000)):
                ws.send_text(json.dumps({"event": "x", "name": name, "size": size}))
            async with asyncio.timeout(seconds(5)):
                while len(got) < 3:
                    await asyncio.sleep(0.01)
            replies = [json.loads(m) for m in got]
            assert [(r["name"], len(r["pad"])) for r in replies] == [
                ("a", 0),
                ("b", 200),
                ("c", 100_000),
            ]
            await ws.close(seconds(5))

    run(main())


def test_the_receivers_close_is_echoed_and_reported(tls_files: TlsFiles) -> None:
    async def main() -> None:
        closed = asyncio.Event()
        async with Receiver(tls_files, drop_after=2) as rx:
            ws = await connect(rx.url, tls_files, closed=closed)
            lane = with_lane(ws)
            ws.send_text('{"event":"connected"}')
            ws.send_text('{"event":"start"}')
            await asyncio.wait_for(closed.wait(), seconds(5))
            assert not ws.open and ws.disconnected
            assert not lane.fast  # the lane leaves the bucket pass for tick
            assert (ws.close_code, ws.close_reason) == (1011, "test drop")
            ws.send_text('{"event":"late"}')  # dropped, never raises
            assert await ws.close(seconds(1)) is False  # already gone

    run(main())


def test_a_refused_upgrade_says_which_status(tls_files: TlsFiles) -> None:
    async def main() -> None:
        async with Receiver(tls_files, refuse=True) as rx:
            with pytest.raises(InvalidStatus) as info:
                await connect(rx.url, tls_files)
            assert info.value.status == 403
            assert str(info.value) == "server rejected WebSocket connection: HTTP 403"

    run(main())


def test_a_silent_server_times_out_and_the_socket_is_shut(tls_files: TlsFiles) -> None:
    async def main() -> None:
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.setblocking(False)
        port = listener.getsockname()[1]
        loop = asyncio.get_running_loop()
        dialling = asyncio.create_task(
            connect(f"wss://127.0.0.1:{port}/x", tls_files, timeout_s=0.5)
        )
        peer, _ = await loop.sock_accept(listener)
        with pytest.raises(TimeoutError):
            await dialling
        # the client's half is shut: the TLS hello, then end of stream
        data = b""
        async with asyncio.timeout(seconds(5)):
            while chunk := await loop.sock_recv(peer, 65536):
                data += chunk
        assert data  # it had sent its ClientHello before giving up
        peer.close()
        listener.close()

    run(main())


def test_nothing_listening_is_a_connection_error(tls_files: TlsFiles) -> None:
    async def main() -> None:
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        probe.close()
        with pytest.raises(OSError):
            await connect(f"wss://127.0.0.1:{port}/x", tls_files)

    run(main())


def test_a_receiver_that_stops_reading_pauses_the_client(tls_files: TlsFiles) -> None:
    async def main() -> None:
        async with Receiver(tls_files, stall=True) as rx:
            closed = asyncio.Event()
            ws = await connect(rx.url, tls_files, closed=closed)
            lane = with_lane(ws)
            chunk = "z" * 16_384
            async with asyncio.timeout(seconds(10)):
                while not ws.paused:
                    assert lane.fast  # open and draining until the pause
                    ws.send_text(chunk)
                    await asyncio.sleep(0)
            assert ws.buffered > 32 * 1024
            assert not lane.fast  # the pause sends the lane to tick
            lane.fast = True  # (as if the streamer had seen it drain)
            ws.abort()  # what the streamer does after its stall timeout
            assert not ws.open and not lane.fast
            await asyncio.wait_for(closed.wait(), seconds(5))

    run(main())


def test_abort_drops_the_connection_without_a_close_frame(tls_files: TlsFiles) -> None:
    async def main() -> None:
        closed = asyncio.Event()
        async with Receiver(tls_files) as rx:
            ws = await connect(rx.url, tls_files, closed=closed)
            ws.send_text('{"event":"connected"}')
            await rx.wait(lambda: bool(rx.connections and rx.connections[0].messages))
            ws.abort()
            await asyncio.wait_for(closed.wait(), seconds(5))
            await rx.wait_closed(0)
            assert ws.close_code is None

    run(main())
