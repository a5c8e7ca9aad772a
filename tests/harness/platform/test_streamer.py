"""One stream's wss session against a real ``websockets`` receiver (contract §5.1-§5.2, §5.4)."""

from __future__ import annotations

import asyncio
import base64
import json
import random
import socket
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from harness.core.api import TRACK_MEDIA
from harness.core.audio import encoded_frames
from harness.core.codecs import FRAME_NS, get_codec
from harness.core.correlation import Expectation
from harness.core.messages import decoder
from harness.core.secret import Secret
from harness.io.recorder import Recorder
from harness.io.sink import MemorySink, RecordSink
from harness.io.tls import TlsFiles, client_context
from harness.platform.core.dialect import DIALECTS
from harness.platform.core.faults import StreamPlan, parse_faults
from harness.platform.core.state import Stream
from harness.platform.sendlog import SendLog
from harness.platform.streamer import (
    Counters,
    Streamer,
    StreamerSettings,
    payloads,
)
from harness.platform.ticker import Ticker
from tests.conftest import seconds
from tests.harness.platform.support import Connection, Receiver, make_stream, rows, run


ACCOUNT = "4f0c3a43-6b43-4c4b-9a3c-0e8b7a9d2f10"


def read_records(run_dir: Path, table: str) -> list[dict[str, Any]]:
    files = sorted((run_dir / "records" / table).glob("*.parquet"))
    return [row for f in files for row in pq.read_table(f).to_pylist()]


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
    assert first_due % 1_000_000 == 0  # aligned on the ticker's 1 ms buckets
    for _, _, chunk, _, due, sent, _, wire in log:
        assert due == first_due + (chunk - 1) * FRAME_NS  # absolute schedule
        assert sent >= due  # never early (docs/performance.md §3: uvloop wakes early)
        assert wire == sent  # no emulated network: written as it left the pipeline


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
        for t in TRACK_MEDIA[track]:  # contract §5.2: chunk counts per track
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
    assert (
        len(payloads("L16@16000h", "big", "outbound")[0]) == 856
    )  # contract §5.5 table


# -- impairments (--fault) ----------------------------------------------------


def impaired(tls: TlsFiles, *specs: str) -> StreamerSettings:
    return settings(tls, faults=parse_faults(specs))


async def impaired_stream(
    receiver: Receiver,
    cfg: StreamerSettings,
    frames: int,
    seed: int = 1,
    **request: Any,
) -> tuple[Streamer, MemorySink, Connection]:
    """Like :func:`stream_into` with a seeded random source and ``frames`` sent (not received)."""
    stream = make_stream(url=receiver.url, **request)
    sink = MemorySink()
    streamer = Streamer(stream, cfg, sink, Counters(), rng=random.Random(seed))
    task = asyncio.create_task(streamer.run())
    async with asyncio.timeout(seconds(10)):
        while len(rows(sink, "sent_frames")) < frames:
            await asyncio.sleep(0.02)
    streamer.stop("stopped")
    await asyncio.wait_for(task, seconds(10))
    conn = await receiver.wait_closed(len(receiver.connections) - 1)
    return streamer, sink, conn


def received(conn: Connection) -> list[tuple[str, int]]:
    return [(m["media"]["track"], int(m["media"]["chunk"])) for m in conn.media()]


def test_delay_and_jitter_show_in_wire_ns_not_sent_ns(tls_files: TlsFiles) -> None:
    async def main() -> None:
        async with Receiver(tls_files) as receiver:
            cfg = impaired(tls_files, "delay=30ms", "jitter=5ms")
            streamer, sink, conn = await impaired_stream(
                receiver, cfg, 10, track="inbound_track"
            )
        log = rows(sink, "sent_frames")
        assert received(conn) == [(r[1], r[2]) for r in log]  # FIFO: order kept
        for _, _, _, _, due, sent, _, wire in log:
            assert sent >= due
            assert wire - sent >= 30_000_000  # injected delay, jitter on top
        assert rows(sink, "impairments") == []  # delay is not an event
        assert conn.events()[-1] == "stop"  # held frames are written before stop
        assert streamer.frames_sent == len(log)

    run(main())


def test_loss_duplicates_and_reorder_match_the_ground_truth(
    tls_files: TlsFiles,
) -> None:
    async def main() -> None:
        async with Receiver(tls_files) as receiver:
            cfg = impaired(tls_files, "loss=0.2", "duplicate=0.2", "reorder=0.2")
            _, sink, conn = await impaired_stream(receiver, cfg, 60, seed=5)
        log = rows(sink, "sent_frames")
        events = rows(sink, "impairments")

        def of(kind: str) -> list[tuple[str, int]]:
            return [(e[1], e[2]) for e in events if e[3] == kind]

        lost = {(r[1], r[2]) for r in log if r[7] == 0}
        assert lost == set(of("loss")) != set()
        dups, swaps = of("duplicate"), of("reorder")
        assert dups and swaps
        got = received(conn)
        written = [(r[1], r[2]) for r in log if r[7]]
        assert sorted(got) == sorted(written + dups)  # every written frame, dups twice
        assert got != sorted(got, key=lambda k: (k[1], k[0]))  # and some out of order
        for track, chunk in swaps:  # a swapped frame comes after the next of its track
            same = [c for t, c in got if t == track]
            if chunk + 1 in same:
                assert same.index(chunk) > same.index(chunk + 1)
        for sid, _, _, _, value, at, detail in events:
            assert sid and value == 0 and at > 0 and detail == ""

    run(main())


def test_a_stall_holds_the_socket(tls_files: TlsFiles) -> None:
    async def main() -> None:
        async with Receiver(tls_files) as receiver:
            cfg = impaired(tls_files, "stall=0.1:100ms")
            _, sink, _ = await impaired_stream(
                receiver, cfg, 40, seed=2, track="inbound_track"
            )
        (stall, *_) = [e for e in rows(sink, "impairments") if e[3] == "stall"]
        assert stall[4] == 100_000_000
        log = {r[2]: r for r in rows(sink, "sent_frames")}
        held = log[stall[2]]
        assert held[7] - held[5] >= 100_000_000
        nxt = log.get(stall[2] + 1)
        if nxt is not None:  # the frame behind it waits too (FIFO)
            assert nxt[7] >= held[7]

    run(main())


def test_disconnect_drops_the_socket_without_stop(tls_files: TlsFiles) -> None:
    async def main() -> None:
        async with Receiver(tls_files) as receiver:
            stream = make_stream(url=receiver.url, track="inbound_track")
            sink = MemorySink()
            plan = StreamPlan(disconnect_chunk=4)
            cfg = impaired(tls_files, "disconnect=1")
            streamer = Streamer(stream, cfg, sink, Counters(), plan=plan)
            await asyncio.wait_for(streamer.run(), seconds(10))
            conn = await receiver.wait_closed(0)
        assert streamer.end_reason == "disconnected"
        assert streamer.error == "injected disconnect (--fault disconnect)"
        assert "stop" not in conn.events()
        assert [int(m["media"]["chunk"]) for m in conn.media()] == [1, 2, 3]
        ((sid, track, chunk, kind, *_),) = rows(sink, "impairments")
        assert (sid, track, chunk, kind) == (stream.sid, "", 4, "disconnect")

    run(main())


def test_start_delay_and_start_fail(tls_files: TlsFiles) -> None:
    async def main() -> None:
        async with Receiver(tls_files) as receiver:
            sink = MemorySink()
            stream = make_stream(url=receiver.url)
            plan = StreamPlan(start_fails=True)
            streamer = Streamer(
                stream, settings(tls_files), sink, Counters(), plan=plan
            )
            await streamer.run()
            assert receiver.connections == []
            assert (streamer.end_reason, streamer.stream_error) == (
                "connect-failed",
                "connection_refused",
            )
            assert [e[3] for e in rows(sink, "impairments")] == ["start-fail"]

            sink = MemorySink()
            stream = make_stream(url=receiver.url)
            plan = StreamPlan(start_delay_ns=150_000_000)
            streamer = Streamer(
                stream, settings(tls_files), sink, Counters(), plan=plan
            )
            task = asyncio.create_task(streamer.run())
            await receiver.wait_media(0, 1)
            streamer.stop("stopped")
            await asyncio.wait_for(task, seconds(5))
            assert streamer.connected_ns - stream.created_ns >= 150_000_000
            ((*_, kind, value, _, _),) = rows(sink, "impairments")
            assert (kind, value) == ("start-delay", 150_000_000)

            sink = MemorySink()  # a stop during the delay ends it before dialling
            plan = StreamPlan(start_delay_ns=10_000_000_000)
            streamer = Streamer(
                stream, settings(tls_files), sink, Counters(), plan=plan
            )
            task = asyncio.create_task(streamer.run())
            await asyncio.sleep(0.01)
            streamer.stop("stopped")
            await asyncio.wait_for(task, seconds(2))
            assert streamer.error == "stopped before the WebSocket opened"
            assert len(receiver.connections) == 1

    run(main())


def test_a_receiver_that_stops_reading_is_aborted_alone(tls_files: TlsFiles) -> None:
    async def main() -> None:
        async with (
            Receiver(tls_files, stall=True) as stuck,
            Receiver(tls_files) as steady,
        ):
            cfg = settings(tls_files, stall_timeout_s=0.3, send_buffer_bytes=16384)
            ticker = Ticker()
            sink = MemorySink()
            counters = Counters()
            big = dict(codec="L16@24000h", track="both_tracks")
            blocked = Streamer(
                make_stream(url=stuck.url, **big), cfg, sink, counters, ticker=ticker
            )
            kept = Streamer(
                make_stream(url=steady.url, **big), cfg, sink, counters, ticker=ticker
            )
            tasks = [asyncio.create_task(s.run()) for s in (blocked, kept)]
            await asyncio.wait_for(tasks[0], seconds(20))
            assert blocked.end_reason == "disconnected"
            assert blocked.error.startswith("the receiver stopped reading: ")
            before = len(steady.connections[0].media())
            await steady.wait_media(0, before + 10)  # the other stream never paused
            kept.stop("stopped")
            await asyncio.wait_for(tasks[1], seconds(10))
            await ticker.close()
        assert kept.end_reason == "stopped"
        sent = [
            r[5]
            for r in rows(sink, "sent_frames")
            if r[0] == kept.stream.sid and r[1] == "inbound"
        ]
        gaps = [b - a for a, b in zip(sent, sent[1:], strict=False)]
        assert len(gaps) > 50
        assert max(gaps) < 100_000_000  # no 100 ms hole while the other one choked

    run(main(), timeout=60)


# -- defects (--defect) -------------------------------------------------------


async def defective(
    tls: TlsFiles, defect: str, frames: int = 4, **request: Any
) -> tuple[Streamer, Connection]:
    async with Receiver(tls) as receiver:
        streamer, _, conn = await stream_into(
            receiver, settings(tls, defects=frozenset({defect})), frames, **request
        )
    return streamer, conn


def chunks(conn: Connection, track: str | None = None) -> list[Any]:
    return [
        m["media"]["chunk"]
        for m in conn.media()
        if track is None or m["media"]["track"] == track
    ]


def test_defect_chunk_global(tls_files: TlsFiles) -> None:
    _, conn = run(defective(tls_files, "chunk-global", 6))
    assert chunks(conn)[:6] == ["1", "2", "3", "4", "5", "6"]
    timestamps = [m["media"]["timestamp"] for m in conn.media()][:4]
    assert timestamps == ["0", "0", "20", "20"]  # only chunk is wrong


def test_defect_numeric_fields(tls_files: TlsFiles) -> None:
    _, conn = run(defective(tls_files, "numeric-fields"))
    media = conn.media()[0]
    assert media["sequenceNumber"] == 2 and media["media"]["chunk"] == 1
    assert media["media"]["timestamp"] == 0
    assert conn.messages[1]["sequenceNumber"] == "1"  # start is left alone


def test_defect_payload_size(tls_files: TlsFiles) -> None:
    _, conn = run(defective(tls_files, "payload-size", codec="L16@16000h"))
    sizes = {len(base64.b64decode(m["media"]["payload"])) for m in conn.media()}
    assert sizes == {639}


def test_defect_media_format_and_wrong_tracks(tls_files: TlsFiles) -> None:
    _, conn = run(defective(tls_files, "media-format"))
    assert conn.messages[1]["start"]["mediaFormat"]["sampleRate"] == 16000
    _, conn = run(defective(tls_files, "wrong-tracks", track="outbound_track"))
    assert conn.messages[1]["start"]["tracks"] == ["inbound"]
    assert {m["media"]["track"] for m in conn.media()} == {"outbound"}


def test_defect_custom_parameters(tls_files: TlsFiles) -> None:
    expectation = Expectation("r", "q", "PCMU", "both_tracks", 1, "0" * 16)
    params = (("streamload", expectation.encode()), ("FirstName", "Jane"))
    _, conn = run(defective(tls_files, "custom-parameters", parameters=params))
    assert conn.messages[1]["start"]["customParameters"] == {
        "streamload": expectation.encode(),
        "FirstName": "Jane-altered",
    }
    _, conn = run(defective(tls_files, "custom-parameters"))
    assert conn.messages[1]["start"]["customParameters"] == {
        "streamload-extra": "added"
    }


def test_defect_missing_stop_and_message_after_stop(tls_files: TlsFiles) -> None:
    streamer, conn = run(defective(tls_files, "missing-stop"))
    assert conn.events()[-1] == "media" and "stop" not in conn.events()
    assert streamer.end_reason == "stopped"
    _, conn = run(defective(tls_files, "message-after-stop", track="inbound_track"))
    assert conn.events()[-2:] == ["stop", "media"]
    seqs = [int(m["sequenceNumber"]) for m in conn.messages[1:]]
    assert seqs == list(range(1, len(seqs) + 1))
    last_chunks = [int(c) for c in chunks(conn)]
    assert last_chunks == list(range(1, len(last_chunks) + 1))


def test_defect_seq_skip(tls_files: TlsFiles) -> None:
    _, conn = run(defective(tls_files, "seq-skip", 105))
    seqs = [int(m["sequenceNumber"]) for m in conn.messages[1:]]
    assert 100 not in seqs and 99 in seqs and 101 in seqs
    assert [b - a for a, b in zip(seqs, seqs[1:], strict=False)].count(2) == 1 + (
        200 in seqs[:-1]
    )


def test_defect_timestamp_drift(tls_files: TlsFiles) -> None:
    _, conn = run(defective(tls_files, "timestamp-drift", track="inbound_track"))
    for m in conn.media():
        chunk = int(m["media"]["chunk"])
        assert m["media"]["timestamp"] == str((chunk - 1) * 20 + 100 + chunk)


def test_defect_stream_sid_mismatch(tls_files: TlsFiles) -> None:
    streamer, conn = run(defective(tls_files, "stream-sid-mismatch"))
    start, stop = conn.messages[1], conn.messages[-1]
    assert start["start"]["streamSid"] == streamer.stream.sid
    top = start["streamSid"]
    assert top != streamer.stream.sid
    assert {m["streamSid"] for m in conn.media()} == {top} and stop["streamSid"] == top


def test_defect_bearer_missing_and_version(tls_files: TlsFiles) -> None:
    _, conn = run(
        defective(tls_files, "bearer-missing", bearer_token=Secret("tok-123"))
    )
    assert "Authorization" not in conn.headers
    _, conn = run(defective(tls_files, "version"))
    assert conn.messages[0] == {
        "event": "connected",
        "protocol": "Call",
        "version": "9.9.9",
    }


def test_ws_url_is_dialled_without_tls(tls_files: TlsFiles) -> None:
    async def main() -> None:
        async with Receiver(tls_files) as receiver:  # wss only: the plain dial fails
            stream = make_stream(url=receiver.url.replace("wss://", "ws://"))
            streamer = Streamer(stream, settings(tls_files), MemorySink(), Counters())
            await asyncio.wait_for(streamer.run(), seconds(10))
        assert streamer.end_reason == "connect-failed"

    run(main())


# -- bidirectional streams (contract §5.3) --------------------------------------


def bidirectional_script(message: dict[str, Any]) -> list[dict[str, Any]]:
    """On start: 40 ms of audio then a mark, an immediate mark, a dtmf; then a clear."""
    if message["event"] == "start":
        sid = message["start"]["streamSid"]
        audio = base64.b64encode(bytes(320)).decode()
        return [
            {"event": "media", "streamSid": sid, "media": {"payload": audio}},
            {"event": "mark", "streamSid": sid, "mark": {"name": "after-audio"}},
            {"event": "dtmf", "streamSid": sid, "dtmf": {"digit": "7"}},
            {"event": "bogus"},
            {"event": "media", "streamSid": sid, "media": {"payload": "***"}},
        ]
    if message["event"] == "mark" and message["mark"]["name"] == "after-audio":
        sid = message["streamSid"]
        audio = base64.b64encode(bytes(1600)).decode()
        return [
            {"event": "media", "streamSid": sid, "media": {"payload": audio}},
            {"event": "mark", "streamSid": sid, "mark": {"name": "cleared"}},
            {"event": "clear", "streamSid": sid},
        ]
    return []


def marks_seen(receiver: Receiver) -> list[str]:
    return [
        m["mark"]["name"]
        for c in receiver.connections
        for m in c.messages
        if m["event"] == "mark"
    ]


@pytest.mark.parametrize("dialect", ["signalwire", "twilio"])
def test_bidirectional_marks_clear_and_dtmf(tls_files: TlsFiles, dialect: str) -> None:
    async def main() -> None:
        async with Receiver(tls_files, reply=bidirectional_script) as receiver:
            stream = make_stream(
                url=receiver.url, real_time=True, track="inbound_track"
            )
            cfg = settings(tls_files, dialect)
            streamer = Streamer(stream, cfg, MemorySink(), Counters())
            task = asyncio.create_task(streamer.run())
            await receiver.wait(lambda: "cleared" in marks_seen(receiver))
            streamer.stop("stopped")
            await asyncio.wait_for(task, seconds(5))
            conn = await receiver.wait_closed(0)
        sid = stream.sid
        marks = [m for m in conn.messages if m["event"] == "mark"]
        assert [m["mark"]["name"] for m in marks] == ["after-audio", "cleared"]
        (dtmf,) = [m for m in conn.messages if m["event"] == "dtmf"]
        if dialect == "signalwire":
            assert marks[0] == {
                "event": "mark",
                "streamSid": sid,
                "mark": {"name": "after-audio"},
            }
            assert dtmf["dtmf"] == {"digit": "7", "duration": 250}
        else:
            assert set(marks[0]) == {"event", "sequenceNumber", "streamSid", "mark"}
            assert dtmf["dtmf"] == {"digit": "7", "track": "inbound_track"}
        assert dtmf["streamSid"] == sid
        # The first mark waited for its 40 ms of audio: two frames at least.
        index = conn.messages.index(marks[0])
        assert len([m for m in conn.messages[:index] if m["event"] == "media"]) >= 2
        seqs = [
            int(m["sequenceNumber"]) for m in conn.messages[1:] if "sequenceNumber" in m
        ]
        assert seqs == list(range(1, len(seqs) + 1))

    run(main())


def test_replies_are_ignored_on_one_way_streams(tls_files: TlsFiles) -> None:
    async def main() -> None:
        async with Receiver(tls_files, reply=bidirectional_script) as receiver:
            _, _, conn = await stream_into(receiver, settings(tls_files), 6)
        assert {m["event"] for m in conn.messages} == {
            "connected",
            "start",
            "media",
            "stop",
        }

    run(main())


def test_l16_little_endian(tls_files: TlsFiles) -> None:
    async def main() -> None:
        async with Receiver(tls_files) as receiver:
            _, _, conn = await stream_into(
                receiver,
                settings(tls_files, l16_byte_order="little"),
                2,
                codec="L16@16000h",
                track="inbound_track",
            )
        payload = base64.b64decode(conn.media()[1]["media"]["payload"])
        codec = get_codec("L16@16000h", "little")
        assert payload == encoded_frames(codec, "inbound")[1]
        assert payload != encoded_frames(get_codec("L16@16000h"), "inbound")[1]

    run(main())


def test_the_platform_recorder_logs_one_record_per_chunk_as_the_rows_were(
    tls_files: TlsFiles, tmp_path: Path
) -> None:
    """With the platform's recorder (a :class:`SendLog` as its hot buffer) the send
    log on disk holds exactly the frames the receiver got, as :func:`check_send_log`
    requires of rows; a stream with a defect that bends the numbers logs rows."""

    async def one(receiver: Receiver, recorder: Recorder, **kw: Any) -> Connection:
        stream = make_stream(url=receiver.url, track="both_tracks")
        streamer = Streamer(stream, settings(tls_files, **kw), recorder, Counters())
        assert (streamer._log is not None) == (not kw)  # the packed path, or rows
        task = asyncio.create_task(streamer.run())
        index = len(receiver.connections)
        await receiver.wait_media(index, 8)
        await recorder.flush()  # a new flush window while the stream sends
        await receiver.wait_media(index, 16)
        streamer.stop("stopped")
        await asyncio.wait_for(task, seconds(10))
        return await receiver.wait_closed(index)

    async def main() -> list[Connection]:
        recorder = Recorder(
            RecordSink(tmp_path, "p", "platform"), "sent_frames", buffer=SendLog
        )
        async with Receiver(tls_files) as receiver:
            conns = [
                await one(receiver, recorder),
                await one(receiver, recorder, defects=frozenset({"seq-skip"})),
            ]
        await recorder.close()
        return conns

    conns = run(main())
    sent = [tuple(r.values()) for r in read_records(tmp_path, "sent_frames")]
    ended = {r["stream_sid"]: r for r in read_records(tmp_path, "platform_streams")}
    assert len(ended) == 2
    for conn in conns:
        sid = conn.messages[1]["start"]["streamSid"]
        log = [r for r in sent if r[0] == sid]
        received = [
            (
                sid,
                m["media"]["track"],
                int(m["media"]["chunk"]),
                int(m["sequenceNumber"]),
            )
            for m in conn.media()
        ]
        assert [r[:4] for r in log] == received
        first_due = ended[sid]["first_due_ns"]
        for _, _, chunk, _, due, sent_ns, size, wire in log:
            assert due == first_due + (chunk - 1) * FRAME_NS
            assert sent_ns >= due and wire == sent_ns and size == 160
        assert ended[sid]["frames_sent"] == len(log)
