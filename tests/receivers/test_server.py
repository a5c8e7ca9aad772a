"""receivers.server: handshake policy, counts, Parquet records and shutdown."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosedOK, InvalidStatus

from harness.core.records import MemorySink
from harness.core.secret import Secret
from harness.io.recorder import Recorder
from harness.io.sink import RecordSink
from harness.io.tls import TlsFiles, client_context, server_context
from receivers.server import HANDSHAKE_SUBJECT, Receiver, ServerConfig
from tests.conftest import seconds
from tests.receivers.helpers import (
    client,
    read_table,
    row_dicts,
    run_async,
    send_all,
    serving,
    stream_messages,
    wait_for,
)


TOKEN = "s3cr3t-token-value"


async def refused_status(url: str, tls: TlsFiles, **kwargs: object) -> int:
    with pytest.raises(InvalidStatus) as info:
        async with client(url, tls, **kwargs):
            pass
    return info.value.response.status_code


def test_wrong_path_is_refused_with_404(transport: str, tls_files: TlsFiles) -> None:
    async def scenario() -> tuple[int, int, dict[str, int]]:
        async with serving(tls_files, transport=transport) as (receiver, _, _):
            base = receiver.url.removesuffix("/stream")
            status = await refused_status(base + "/other", tls_files)
            # a query string on the right path is fine (contract §5.1 URLs)
            async with client(receiver.url + "?x=1", tls_files) as ws:
                await send_all(ws, stream_messages(1)[1])
            return status, receiver.refused, receiver.stats()

    status, refused, stats = run_async(scenario)
    assert status == 404
    assert refused == 1
    assert stats["streams_total"] == 1


def test_bearer_token_missing_or_wrong_is_refused_with_401(
    transport: str, tls_files: TlsFiles
) -> None:
    async def scenario() -> tuple[list[int], Receiver, MemorySink, str]:
        async with serving(tls_files, transport=transport, token=Secret(TOKEN)) as (
            receiver,
            sink,
            _,
        ):
            statuses = [
                await refused_status(receiver.url, tls_files),
                await refused_status(
                    receiver.url,
                    tls_files,
                    additional_headers={"Authorization": "Bearer nope"},
                ),
                await refused_status(
                    receiver.url,
                    tls_files,
                    additional_headers={"Authorization": f"Basic {TOKEN}"},
                ),
            ]
            sid, messages = stream_messages(2)
            headers = {"Authorization": f"Bearer {TOKEN}"}
            async with client(
                receiver.url, tls_files, additional_headers=headers
            ) as ws:
                await send_all(ws, messages)
            await wait_for(lambda: bool(sink.rows["streams"]))
        receiver.record_handshakes()
        return statuses, receiver, sink, sid

    statuses, receiver, sink, sid = run_async(scenario)
    assert statuses == [401, 401, 401]
    assert receiver.refused == 3 and receiver.stats()["refused"] == 3
    assert receiver.accepted == 1
    checks = {(r["subject"], r["rule"]): r for r in row_dicts(sink, "rule_checks")}
    refused = checks[(HANDSHAKE_SUBJECT, "WS-HANDSHAKE-001")]
    assert (refused["checks"], refused["failures"]) == (3, 3)
    admitted = checks[(sid, "WS-HANDSHAKE-001")]
    assert (admitted["checks"], admitted["failures"]) == (1, 0)
    evidence = [v["actual"] for v in row_dicts(sink, "violations")]
    assert evidence == [
        "no Authorization header",
        "a different token",
        "not a Bearer credential",
    ]
    assert not any(
        TOKEN in str(row) or "nope" in str(row) for row in sink.rows["violations"]
    )


def test_without_a_token_any_upgrade_is_accepted_and_nothing_is_checked(
    transport: str,
    tls_files: TlsFiles,
) -> None:
    async def scenario() -> MemorySink:
        async with serving(tls_files, transport=transport) as (receiver, sink, _):
            headers = {"Authorization": "Bearer whatever"}
            async with client(
                receiver.url, tls_files, additional_headers=headers
            ) as ws:
                await send_all(ws, stream_messages(1)[1])
            await wait_for(lambda: bool(sink.rows["streams"]))
        receiver.record_handshakes()
        return sink

    sink = run_async(scenario)
    assert "WS-HANDSHAKE-001" not in {r["rule"] for r in row_dicts(sink, "rule_checks")}


def test_streams_and_frames_land_in_parquet(
    transport: str, tls_files: TlsFiles, tmp_path: Path
) -> None:
    streams = [
        stream_messages(25),
        stream_messages(10, codec="L16@16000h", track="both_tracks"),
    ]

    async def scenario() -> dict[str, int]:
        sink = Recorder(RecordSink(tmp_path, "receiver-t", "receiver"), "frames")
        ctx = server_context(tls_files.cert_file, tls_files.key_file)
        receiver = Receiver(ServerConfig(transport=transport), ctx, sink)
        await receiver.start()
        for _, messages in streams:
            async with client(receiver.url, tls_files) as ws:
                await send_all(ws, messages)
        await wait_for(
            lambda: receiver.stats()["streams_total"] == 2 and not receiver.open
        )
        await receiver.close(timeout=5)
        await sink.close()
        assert sink.loss.complete
        return receiver.stats()

    stats = run_async(scenario)
    assert stats == {
        "streams_open": 0,
        "streams_total": 2,
        "frames": 45,
        "violations": 0,
        "refused": 0,
    }
    frames = read_table(tmp_path, "frames")
    by_sid = {sid: [f for f in frames if f["stream_sid"] == sid] for sid, _ in streams}
    assert [len(v) for v in by_sid.values()] == [25, 20]
    assert {f["payload_bytes"] for f in by_sid[streams[0][0]]} == {160}
    assert {f["payload_bytes"] for f in by_sid[streams[1][0]]} == {640}
    rows = {r["stream_sid"]: r for r in read_table(tmp_path, "streams")}
    assert set(rows) == {sid for sid, _ in streams}
    assert [(r["frames"], r["violations"], r["close_code"]) for r in rows.values()] == [
        (25, 0, 1000),
        (20, 0, 1000),
    ]
    assert read_table(tmp_path, "violations") == []
    assert all(r["failures"] == 0 for r in read_table(tmp_path, "rule_checks"))
    (producer,) = read_table(tmp_path, "producers")
    assert (producer["producer"], producer["kind"]) == ("receiver-t", "receiver")


def test_close_ends_open_streams_with_1001_and_records_them(
    transport: str,
    tls_files: TlsFiles,
) -> None:
    sid, messages = stream_messages(3, stop=False)

    async def scenario() -> tuple[MemorySink, int | None]:
        async with serving(tls_files, transport=transport) as (receiver, sink, _):
            ws = await client(receiver.url, tls_files)
            await send_all(ws, messages)
            await wait_for(lambda: receiver.stats()["frames"] == 3)
            assert receiver.stats()["streams_open"] == 1
            await receiver.close(timeout=5)
            with pytest.raises(ConnectionClosedOK):
                await ws.recv()
            return sink, ws.close_code

    sink, seen = run_async(scenario)
    assert seen == 1001
    (row,) = row_dicts(sink, "streams")
    assert (row["stream_sid"], row["frames"], row["close_code"]) == (sid, 3, 1001)


def test_reuse_port_lets_two_receivers_share_one_port(
    transport: str, tls_files: TlsFiles
) -> None:
    async def scenario() -> tuple[str, str]:
        async with serving(tls_files, transport=transport, reuse_port=True) as (
            first,
            _,
            _,
        ):
            port = int(first.url.rsplit(":", 1)[1].split("/")[0])
            async with serving(
                tls_files, transport=transport, port=port, reuse_port=True
            ) as (second, _, _):
                return first.url, second.url

    first, second = run_async(scenario)
    assert first == second


def test_a_taken_port_raises_oserror(transport: str, tls_files: TlsFiles) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        async def scenario() -> None:
            async with serving(tls_files, transport=transport, port=port):
                pass

        with pytest.raises(OSError):
            run_async(scenario)


def _firehose(
    port: int, tls: TlsFiles, messages: list[str], stop: threading.Event
) -> None:
    """A peer that keeps sending media and never reads, so never answers a close."""

    def frame(
        text: str,
    ) -> bytes:  # client frames are masked; a zero mask keeps it plain
        data = text.encode()
        size = len(data)
        head = bytes([0x81, 0x80 | size]) if size < 126 else bytes([0x81, 0xFE])
        if size >= 126:
            head += size.to_bytes(2, "big")
        return head + b"\0\0\0\0" + data

    raw = socket.create_connection(("127.0.0.1", port), timeout=5)
    with client_context(tls.ca_file).wrap_socket(raw, server_hostname="127.0.0.1") as s:
        s.sendall(
            b"GET /stream HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            b"Sec-WebSocket-Version: 13\r\n\r\n"
        )
        reply = b""
        while b"\r\n\r\n" not in reply:
            reply += s.recv(4096)
        s.sendall(b"".join(frame(m) for m in messages[:2]))  # connected, start
        media = b"".join(frame(m) for m in messages[2:]) * 20
        while not stop.is_set():
            try:
                s.sendall(media)
            except OSError:
                return


def test_close_drops_a_peer_that_keeps_sending_and_never_answers(
    transport: str,
    tls_files: TlsFiles,
) -> None:
    """A saturating peer cannot keep the receiver reading (and recording) after close."""
    _, messages = stream_messages(50, stop=False)
    stop = threading.Event()

    async def scenario() -> tuple[float, int, int, MemorySink]:
        async with serving(tls_files, transport=transport) as (receiver, sink, _):
            port = int(receiver.url.rsplit(":", 1)[1].split("/")[0])
            peer = threading.Thread(
                target=_firehose, args=(port, tls_files, messages, stop), daemon=True
            )
            peer.start()
            await wait_for(lambda: receiver.stats()["frames"] > 1000, timeout=10)
            started = time.monotonic()
            await receiver.close(timeout=1.0)
            took = time.monotonic() - started
            await asyncio.sleep(0.5)  # what was read before the drop is recorded
            frames = receiver.stats()["frames"]
            await asyncio.sleep(0.5)  # the peer still sends: nothing more is read
            return took, frames, receiver.stats()["frames"], sink

    try:
        took, at_close, later, sink = run_async(scenario)
    finally:
        stop.set()
    assert took < seconds(3.0)
    assert later == at_close
    (row,) = row_dicts(sink, "streams")
    assert row["close_code"] == -1  # recorded at the close: no close frame came


def test_a_half_open_socket_is_dropped_after_the_open_timeout(
    transport: str, tls_files: TlsFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A peer that connects and says nothing, before or after TLS, holds no socket."""
    monkeypatch.setattr(f"receivers.transport_{transport}.OPEN_TIMEOUT_S", 0.3)
    monkeypatch.setattr("receivers.server.OPEN_TIMEOUT_S", 0.3)  # the TLS handshake

    async def scenario() -> tuple[bytes, bytes, float, Receiver]:
        async with serving(tls_files, transport=transport) as (receiver, _, _):
            port = int(receiver.url.rsplit(":", 1)[1].split("/")[0])
            started = time.monotonic()
            # no ClientHello at all
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            silent_tcp = await reader.read()
            writer.close()
            # TLS done, no upgrade request
            reader, writer = await asyncio.open_connection(
                "127.0.0.1",
                port,
                ssl=client_context(tls_files.ca_file),
                server_hostname="127.0.0.1",
            )
            try:
                silent_tls = await reader.read()
            except (ConnectionError, OSError):
                silent_tls = b""
            writer.close()
            return silent_tcp, silent_tls, time.monotonic() - started, receiver

    silent_tcp, silent_tls, took, receiver = run_async(scenario)
    assert (silent_tcp, silent_tls) == (b"", b"")  # closed by the receiver
    assert took < seconds(5.0)
    assert receiver.accepted == 0
