"""One stream's wss session against a real ``websockets`` receiver (api.md §5.1-§5.2, §5.4)."""

from __future__ import annotations

import asyncio
import base64
import json
import socket
from typing import Any

import pytest

from harness.api import TRACK_MEDIA
from harness.codecs import get_codec
from harness.correlation import Expectation
from harness.messages import decoder
from harness.platform.dialect import DIALECTS
from harness.platform.state import Stream
from harness.platform.streamer import (
    FRAME_NS,
    Counters,
    Streamer,
    StreamerSettings,
    payloads,
)
from harness.secret import Secret
from harness.signal import encoded_frames
from harness.sink import MemorySink
from harness.tls import TlsFiles, client_context
from tests.conftest import seconds
from tests.harness.platform.support import Connection, Receiver, make_stream, rows, run


ACCOUNT = "4f0c3a43-6b43-4c4b-9a3c-0e8b7a9d2f10"


def settings(
    tls: TlsFiles | None, dialect: str = "signalwire", **kw: Any
) -> StreamerSettings:
    ssl = (
        client_context(tls.ca_file)
        if tls is not None
        else client_context(None, verify=False)
    )
    return StreamerSettings(
        account_sid=ACCOUNT, ssl=ssl, dialect=DIALECTS[dialect], **kw
    )


async def stream_into(
    receiver: Receiver,
    cfg: StreamerSettings,
    frames: int,
    **request: Any,
) -> tuple[Streamer, MemorySink, Connection]:
    """Stream until the receiver has ``frames`` media messages, stop, and wait for the end."""
    stream = make_stream(url=receiver.url, **request)
    sink = MemorySink()
    streamer = Streamer(stream, cfg, sink, Counters())
    task = asyncio.create_task(streamer.run())
    index = len(receiver.connections)
    await receiver.wait_media(index, frames)
    streamer.stop("stopped")
    await asyncio.wait_for(task, seconds(10))
    conn = await receiver.wait_closed(index)
    return streamer, sink, conn


def check_send_log(
    stream: Stream, sink: MemorySink, conn: Connection, frame_bytes: int
) -> None:
    """The send log holds exactly the frames the receiver got, on an absolute 20 ms grid."""
    received = [
        (
            stream.sid,
            m["media"]["track"],
            int(m["media"]["chunk"]),
            int(m["sequenceNumber"]),
        )
        for m in conn.media()
    ]
    log = rows(sink, "sent_frames")
    assert [r[:4] for r in log] == received
    assert {r[6] for r in log} == {frame_bytes}
    (record,) = rows(sink, "platform_streams")
    first_due = record[8]
    for _, _, chunk, _, due, sent, _ in log:
        assert due == first_due + (chunk - 1) * FRAME_NS  # absolute schedule
        assert sent >= due  # never early (limits.md §3: uvloop wakes early)


def test_both_tracks_pcmu_order_payloads_and_send_log(tls_files: TlsFiles) -> None:
    async def main() -> None:
        async with Receiver(tls_files) as receiver:
            streamer, sink, conn = await stream_into(receiver, settings(tls_files), 8)
        stream = streamer.stream
        events = conn.events()
        assert events[:2] == ["connected", "start"]
        assert events[-1] == "stop"
        assert set(events[2:-1]) == {"media"}
        msgs = conn.messages
        dec = decoder()
        for (
            m
        ) in msgs:  # strict types: every sequenceNumber, chunk and timestamp a string
            dec.decode(json.dumps(m))
        assert msgs[0] == {"event": "connected", "protocol": "Call", "version": "0.2.0"}
        assert msgs[1] == {
            "event": "start",
            "sequenceNumber": "1",
            "start": {
                "streamSid": stream.sid,
                "accountSid": ACCOUNT,
                "callSid": stream.call_sid,
                "tracks": ["inbound", "outbound"],
                "mediaFormat": {
                    "encoding": "audio/x-mulaw",
                    "sampleRate": 8000,
                    "channels": 1,
                },
            },
        }
        seqs = [int(m["sequenceNumber"]) for m in msgs[1:]]
        assert seqs == list(range(1, len(seqs) + 1))
        media = conn.media()
        codec = get_codec("PCMU")
        for i, m in enumerate(media):
            chunk = i // 2 + 1
            track = ("inbound", "outbound")[
                i % 2
            ]  # both tracks back to back per due time
            assert m["media"]["track"] == track
            assert m["media"]["chunk"] == str(chunk)
            assert m["media"]["timestamp"] == str((chunk - 1) * 20)
            payload = base64.b64decode(m["media"]["payload"], validate=True)
            assert len(payload) == 160
            assert payload == encoded_frames(codec, track)[(chunk - 1) % 50]
        assert "Authorization" not in conn.headers
        check_send_log(stream, sink, conn, 160)
        (record,) = rows(sink, "platform_streams")
        assert record[0:6] == (stream.sid, "conf", "", "PCMU", "both_tracks", 0)
        assert record[7] > 0 and record[8] >= record[7] and record[9] >= record[8]
        assert record[10:] == (len(media), "stopped", "")
        assert streamer.frames_sent == len(media)

    run(main())


@pytest.mark.parametrize(
    ("codec", "track", "encoding", "rate", "frame_bytes"),
    [
        ("PCMU", "inbound_track", "audio/x-mulaw", 8000, 160),
        ("PCMA", "outbound_track", "audio/x-alaw", 8000, 160),
        ("L16", "inbound_track", "audio/x-L16", 8000, 320),
        ("L16@16000h", "outbound_track", "audio/x-L16", 16000, 640),
        ("L16@24000h", "both_tracks", "audio/x-L16", 24000, 960),
    ],
)
def test_codecs_and_tracks(
    tls_files: TlsFiles,
    codec: str,
    track: str,
    encoding: str,
    rate: int,
    frame_bytes: int,
) -> None:
    async def main() -> None:
        async with Receiver(tls_files) as receiver:
            streamer, sink, conn = await stream_into(
                receiver, settings(tls_files), 4, codec=codec, track=track
            )
        start = conn.messages[1]["start"]
        assert start["tracks"] == list(TRACK_MEDIA[track])
        assert start["mediaFormat"] == {
            "encoding": encoding,
            "sampleRate": rate,
            "channels": 1,
        }
        media = conn.media()
        assert {m["media"]["track"] for m in media} == set(TRACK_MEDIA[track])
        for t in TRACK_MEDIA[track]:  # api.md §5.2: chunk counts per track
            chunks = [
                int(m["media"]["chunk"]) for m in media if m["media"]["track"] == t
            ]
            assert chunks == list(range(1, len(chunks) + 1))
        assert {len(base64.b64decode(m["media"]["payload"])) for m in media} == {
            frame_bytes
        }
        check_send_log(streamer.stream, sink, conn, frame_bytes)

    run(main())


def test_bearer_token_and_custom_parameters_are_passed(tls_files: TlsFiles) -> None:
    expectation = Expectation("run1", "req-42", "PCMU", "inbound_track", 2, "0" * 16)
    params = (
        ("FirstName", "Jane"),
        ("LastName", "Doe"),
        ("streamload", expectation.encode()),
    )

    async def main() -> None:
        async with Receiver(tls_files) as receiver:
            streamer, sink, conn = await stream_into(
                receiver,
                settings(tls_files),
                1,
                track="inbound_track",
                parameters=params,
                bearer_token=Secret("bearer-s3cret"),
            )
        assert conn.headers["Authorization"] == "Bearer bearer-s3cret"
        assert conn.messages[1]["start"]["customParameters"] == dict(params)
        (record,) = rows(sink, "platform_streams")
        assert record[2] == "req-42"
        assert record[5] == 3

    run(main())


def test_unverified_tls_is_the_default_and_verification_can_fail(
    tls_files: TlsFiles,
) -> None:
    async def main() -> None:
        async with Receiver(tls_files) as receiver:
            _, sink, _ = await stream_into(
                receiver, settings(None), 1, track="inbound_track"
            )
            assert rows(sink, "platform_streams")[0][11] == "stopped"
            strict = StreamerSettings(
                account_sid=ACCOUNT,
                ssl=client_context(None),
                dialect=DIALECTS["signalwire"],
            )
            sink = MemorySink()
            streamer = Streamer(make_stream(url=receiver.url), strict, sink, Counters())
            await streamer.run()
        assert streamer.end_reason == "connect-failed"
        assert streamer.stream_error == "connection_refused_timeout_or_ssl_error"

    run(main())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_connection_refused_ends_only_that_stream(tls_files: TlsFiles) -> None:
    async def main() -> None:
        sink = MemorySink()
        stream = make_stream(
            url=f"wss://127.0.0.1:{free_port()}/x", bearer_token=Secret("tok-in-error?")
        )
        streamer = Streamer(stream, settings(tls_files), sink, Counters())
        await streamer.run()
        assert (streamer.end_reason, streamer.stream_error) == (
            "connect-failed",
            "connection_refused",
        )
        (record,) = rows(sink, "platform_streams")
        assert record[7] == 0 and record[10] == 0 and record[11] == "connect-failed"
        assert record[12] and "tok-in-error?" not in record[12]
        assert rows(sink, "sent_frames") == []

    run(main())


def test_handshake_refused_by_receiver(tls_files: TlsFiles) -> None:
    async def main() -> None:
        async with Receiver(tls_files, refuse=True) as receiver:
            sink = MemorySink()
            streamer = Streamer(
                make_stream(url=receiver.url), settings(tls_files), sink, Counters()
            )
            await streamer.run()
        assert streamer.end_reason == "connect-failed"
        assert "403" in streamer.error

    run(main())


def test_a_receiver_that_drops_ends_only_its_stream(tls_files: TlsFiles) -> None:
    async def main() -> None:
        async with (
            Receiver(tls_files, drop_after=5) as dropper,
            Receiver(tls_files) as steady,
        ):
            sink = MemorySink()
            counters = Counters()
            cfg = settings(tls_files)
            dropped = Streamer(make_stream(url=dropper.url), cfg, sink, counters)
            kept = Streamer(make_stream(url=steady.url), cfg, sink, counters)
            tasks = [asyncio.create_task(s.run()) for s in (dropped, kept)]
            await asyncio.wait_for(tasks[0], seconds(10))
            assert dropped.end_reason == "disconnected"
            assert "1011" in dropped.error
            before = len(steady.connections[0].media())
            await steady.wait_media(0, before + 4)  # the other stream goes on
            kept.stop("stopped")
            await asyncio.wait_for(tasks[1], seconds(10))
        assert kept.end_reason == "stopped"
        assert counters.frames_sent == dropped.frames_sent + kept.frames_sent

    run(main())


def test_stop_while_the_handshake_hangs(tls_files: TlsFiles) -> None:
    async def main() -> None:
        accepted = asyncio.Event()
        peers: list[asyncio.StreamWriter] = []

        async def silent(
            reader: asyncio.StreamReader, writer: asyncio.StreamWriter
        ) -> None:
            peers.append(writer)
            accepted.set()

        server = await asyncio.start_server(silent, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        sink = MemorySink()
        streamer = Streamer(
            make_stream(url=f"wss://127.0.0.1:{port}/"),
            settings(tls_files),
            sink,
            Counters(),
        )
        task = asyncio.create_task(streamer.run())
        await asyncio.wait_for(accepted.wait(), seconds(5))
        streamer.stop("stopped")
        await asyncio.wait_for(task, seconds(2))
        for writer in peers:
            writer.close()
        server.close()
        await server.wait_closed()
        assert streamer.end_reason == "stopped"
        assert streamer.error == "stopped before the WebSocket opened"
        assert rows(sink, "platform_streams")[0][7] == 0

    run(main())


def test_cancelled_streamer_still_records_its_end(tls_files: TlsFiles) -> None:
    async def main() -> None:
        async with Receiver(tls_files) as receiver:
            sink = MemorySink()
            streamer = Streamer(
                make_stream(url=receiver.url), settings(tls_files), sink, Counters()
            )
            task = asyncio.create_task(streamer.run())
            await receiver.wait_media(0, 2)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            await receiver.wait_closed(0)
        assert rows(sink, "platform_streams")[0][11] == "shutdown"

    run(main())


def test_twilio_dialect_messages(tls_files: TlsFiles) -> None:
    async def main() -> None:
        async with Receiver(tls_files) as receiver:
            streamer, _, conn = await stream_into(
                receiver, settings(tls_files, "twilio"), 1, track="inbound_track"
            )
        sid, call = streamer.stream.sid, streamer.stream.call_sid
        first, start, media, stop = (
            conn.messages[0],
            conn.messages[1],
            conn.media()[0],
            conn.messages[-1],
        )
        assert first["version"] == "1.0.0"
        assert start["streamSid"] == sid and media["streamSid"] == sid
        assert stop == {
            "event": "stop",
            "sequenceNumber": str(len(conn.messages) - 1),
            "stop": {"accountSid": ACCOUNT, "callSid": call},
            "streamSid": sid,
        }

    run(main())


def test_payloads_are_encoded_once() -> None:
    assert payloads("PCMU", "big", "inbound") is payloads("PCMU", "big", "inbound")
    assert len(payloads("L16@16000h", "big", "outbound")[0]) == 856  # api.md §5.5 table
