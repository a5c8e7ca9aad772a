"""receivers.connection: every way a connection ends is recorded, and only it ends."""

from __future__ import annotations

import json
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosedError

from harness.core.records import MemorySink
from harness.io.tls import TlsFiles
from receivers.connection import IDLE_CLOSE_CODE
from tests.receivers.helpers import (
    client,
    row_dicts,
    run_async,
    send_all,
    serving,
    stream_messages,
    wait_for,
)


def rules_failed(sink: MemorySink, sid: str) -> dict[str, int]:
    return {
        r["rule"]: r["failures"]
        for r in row_dicts(sink, "rule_checks")
        if r["subject"] == sid and r["failures"]
    }


def stream_row(sink: MemorySink, sid: str) -> dict[str, Any]:
    (row,) = [r for r in row_dicts(sink, "streams") if r["stream_sid"] == sid]
    return row


def test_valid_stream_records_every_frame_and_no_violation(
    transport: str, tls_files: TlsFiles
) -> None:
    sid, messages = stream_messages(20, track="both_tracks", params={"k": "v"})

    async def scenario() -> MemorySink:
        async with serving(tls_files, transport=transport) as (receiver, sink, _):
            async with client(receiver.url, tls_files) as ws:
                await send_all(ws, messages)
            await wait_for(lambda: not receiver.open and bool(sink.rows["streams"]))
            return sink

    sink = run_async(scenario)
    frames = row_dicts(sink, "frames")
    assert len(frames) == 40
    assert {f["track"] for f in frames} == {"inbound", "outbound"}
    assert [f["chunk"] for f in frames if f["track"] == "inbound"] == list(range(1, 21))
    row = stream_row(sink, sid)
    assert (row["frames"], row["violations"], row["close_code"]) == (40, 0, 1000)
    assert (
        row["codec"] == "PCMU"
        and row["track"] == "both_tracks"
        and row["n_params"] == 1
    )
    assert (
        row["start_ns"] > row["connected_ns"] and row["closed_ns"] >= row["stop_ns"] > 0
    )
    assert rules_failed(sink, sid) == {}
    assert sink.rows["violations"] == []


@pytest.mark.parametrize(
    ("bad", "rule"),
    [
        ('{"event": "media", "sequenceNumber": "3", ', "WS-JSON-001"),
        (b"\x00\x01binary", "WS-JSON-001"),
        (
            '{"event":"media","sequenceNumber":3,"media":{"track":"inbound",'
            '"chunk":"2","timestamp":"20","payload":""}}',
            "WS-JSON-002",
        ),
    ],
    ids=["malformed-json", "binary-frame", "numeric-sequence-number"],
)
def test_bad_message_is_a_violation_and_the_stream_goes_on(
    transport: str, tls_files: TlsFiles, bad: str | bytes, rule: str
) -> None:
    sid, messages = stream_messages(4)
    messages.insert(3, bad)  # type: ignore[arg-type]  # after the first media
    other_sid, other = stream_messages(4)

    async def scenario() -> MemorySink:
        async with serving(tls_files, transport=transport) as (receiver, sink, _):
            async with (
                client(receiver.url, tls_files) as a,
                client(receiver.url, tls_files) as b,
            ):
                await send_all(a, messages)
                await send_all(b, other)
            await wait_for(lambda: len(sink.rows["streams"]) == 2)
            return sink

    sink = run_async(scenario)
    assert rules_failed(sink, sid).get(rule, 0) >= 1
    evidence = [v for v in row_dicts(sink, "violations") if v["subject"] == sid]
    assert rule in {v["rule"] for v in evidence}
    assert stream_row(sink, sid)["close_code"] == 1000
    assert stream_row(sink, sid)["frames"] >= 4  # the bad message cost no good frame
    assert stream_row(sink, other_sid)["violations"] == 0


def test_oversized_message_closes_with_1009_and_others_are_served(
    transport: str,
    tls_files: TlsFiles,
) -> None:
    sid, messages = stream_messages(2, stop=False)
    other_sid, other = stream_messages(3)

    async def scenario() -> tuple[MemorySink, int | None]:
        async with serving(tls_files, transport=transport, max_size=2048) as (
            receiver,
            sink,
            _,
        ):
            async with client(receiver.url, tls_files) as ws:
                await send_all(ws, messages)
                await ws.send(json.dumps({"event": "media", "pad": "x" * 4096}))
                with pytest.raises(ConnectionClosedError):
                    await ws.recv()
                seen = ws.close_code
            async with client(receiver.url, tls_files) as ws:
                await send_all(ws, other)
            await wait_for(lambda: len(sink.rows["streams"]) == 2)
            return sink, seen

    sink, seen = run_async(scenario)
    assert seen == 1009
    row = stream_row(sink, sid)
    assert (row["frames"], row["close_code"]) == (2, 1009)
    assert rules_failed(sink, sid) == {"WS-STOP-001": 1}
    assert stream_row(sink, other_sid)["violations"] == 0


def test_abrupt_disconnect_keeps_the_frames_and_records_1006(
    transport: str,
    tls_files: TlsFiles,
) -> None:
    sid, messages = stream_messages(6, stop=False)

    async def scenario() -> MemorySink:
        async with serving(tls_files, transport=transport) as (receiver, sink, _):
            async with client(receiver.url, tls_files) as ws:
                await send_all(ws, messages)
                await wait_for(
                    lambda: sum(c.session.frames for c in receiver.open) == 6
                )
                ws.transport.abort()
            await wait_for(lambda: bool(sink.rows["streams"]))
            # the receiver still serves after the drop
            async with client(receiver.url, tls_files) as ws:
                await send_all(ws, stream_messages(1)[1])
            await wait_for(lambda: len(sink.rows["streams"]) == 2)
            return sink

    sink = run_async(scenario)
    row = stream_row(sink, sid)
    assert (row["frames"], row["close_code"], row["stop_ns"]) == (6, 1006, 0)
    assert rules_failed(sink, sid) == {"WS-STOP-001": 1}


def test_idle_connection_is_closed_with_4408(
    transport: str, tls_files: TlsFiles
) -> None:
    sid, messages = stream_messages(2, stop=False)

    async def scenario() -> tuple[MemorySink, int | None]:
        async with serving(tls_files, transport=transport, idle_timeout=0.2) as (
            receiver,
            sink,
            _,
        ):
            async with client(receiver.url, tls_files) as ws:
                await send_all(ws, messages)
                await ws.wait_closed()  # bounded by run_async's timeout
                seen = ws.close_code
            await wait_for(lambda: bool(sink.rows["streams"]))
            return sink, seen

    sink, seen = run_async(scenario)
    assert seen == IDLE_CLOSE_CODE
    row = stream_row(sink, sid)
    assert (row["frames"], row["close_code"]) == (2, IDLE_CLOSE_CODE)


class FailingSink(MemorySink):
    """A sink that breaks on one stream's frames, standing in for a core bug."""

    def __init__(self, poison: str) -> None:
        super().__init__()
        self.poison = poison

    def add(self, table: str, row: tuple[object, ...]) -> None:
        if table == "frames" and row[0] == self.poison:
            raise RuntimeError("boom")
        super().add(table, row)


def test_an_error_in_one_connection_costs_only_that_stream(
    transport: str, tls_files: TlsFiles, caplog: pytest.LogCaptureFixture
) -> None:
    bad_sid, bad = stream_messages(3)
    good_sid, good = stream_messages(3)

    async def scenario() -> tuple[MemorySink, int | None]:
        sink = FailingSink(bad_sid)
        async with serving(tls_files, transport=transport, sink=sink) as (
            receiver,
            _,
            _,
        ):
            async with (
                client(receiver.url, tls_files) as a,
                client(receiver.url, tls_files) as b,
            ):
                await send_all(b, good[:3])
                await send_all(a, bad)
                await a.wait_closed()
                await send_all(b, good[3:])
            await wait_for(lambda: len(sink.rows["streams"]) == 2)
            return sink, a.close_code

    sink, seen = run_async(scenario)
    assert seen == 1011
    assert stream_row(sink, bad_sid)["close_code"] == 1011
    assert stream_row(sink, good_sid)["frames"] == 3
    assert stream_row(sink, good_sid)["violations"] == 0
    assert "receiving on" in caplog.text


def test_a_flood_faster_than_real_time_is_recorded_in_full(
    transport: str, tls_files: TlsFiles
) -> None:
    """5,000 frames back to back (100 s of media at once): every one checked and kept."""
    sid, messages = stream_messages(2500, track="both_tracks")

    async def scenario() -> MemorySink:
        async with serving(tls_files, transport=transport) as (receiver, sink, _):
            async with client(receiver.url, tls_files) as ws:
                await send_all(ws, messages)
            await wait_for(lambda: len(sink.rows["streams"]) == 1, timeout=20)
            return sink

    sink = run_async(scenario, timeout=40)
    row = stream_row(sink, sid)
    assert (row["frames"], row["violations"], row["close_code"]) == (5000, 0, 1000)
    assert len(sink.rows["frames"]) == 5000


def test_a_fragmented_message_counts_whole_and_its_size_is_bounded(
    transport: str, tls_files: TlsFiles
) -> None:
    """Fragments are one message: parsed once, and bounded by --max-size as a whole."""
    sid, messages = stream_messages(3, stop=False)
    big_sid, big = stream_messages(1, stop=False)
    third = messages[4]  # the third media message, sent in three fragments

    async def scenario() -> tuple[MemorySink, int | None]:
        async with serving(tls_files, transport=transport, max_size=4096) as (
            receiver,
            sink,
            _,
        ):
            async with client(receiver.url, tls_files) as ws:
                await send_all(ws, messages[:4])
                await ws.send([third[:10], third[10:40], third[40:]])
                await ws.send(json.dumps({"event": "stop", "sequenceNumber": "5"}))
            async with client(receiver.url, tls_files, max_size=None) as ws:
                await send_all(ws, big)
                # each fragment under the limit, the message over it
                await ws.send(["x" * 3000, "y" * 3000])
                with pytest.raises(ConnectionClosedError):
                    await ws.recv()
                seen = ws.close_code
            await wait_for(lambda: len(sink.rows["streams"]) == 2)
            return sink, seen

    sink, seen = run_async(scenario)
    row = stream_row(sink, sid)
    assert (row["frames"], row["violations"], row["close_code"]) == (3, 0, 1000)
    assert seen == 1009
    assert stream_row(sink, big_sid)["close_code"] == 1009


@pytest.mark.parametrize(
    ("hostile", "code"),
    [
        ("2 MB frame", 1009),
        ("not UTF-8", 1007),
    ],
)
def test_a_hostile_frame_ends_only_its_own_stream(
    transport: str, tls_files: TlsFiles, hostile: str, code: int
) -> None:
    sid, messages = stream_messages(2, stop=False)
    other_sid, other = stream_messages(3)

    async def scenario() -> tuple[MemorySink, int | None]:
        async with serving(tls_files, transport=transport) as (receiver, sink, _):
            async with client(receiver.url, tls_files, max_size=None) as ws:
                await send_all(ws, messages)
                if hostile == "2 MB frame":
                    await ws.send("x" * 2_000_000)
                else:
                    await ws.send(b'{"event": "\xff\xfe"}', text=True)
                with pytest.raises(ConnectionClosedError):
                    await ws.recv()
                seen = ws.close_code
            async with client(receiver.url, tls_files) as ws:
                await send_all(ws, other)
            await wait_for(lambda: len(sink.rows["streams"]) == 2)
            return sink, seen

    sink, seen = run_async(scenario)
    assert seen == code
    row = stream_row(sink, sid)
    assert (row["frames"], row["close_code"]) == (2, code)
    assert rules_failed(sink, sid) == {"WS-STOP-001": 1}
    assert stream_row(sink, other_sid)["violations"] == 0


def test_deep_json_nesting_is_a_violation_and_the_stream_goes_on(
    transport: str, tls_files: TlsFiles
) -> None:
    sid, messages = stream_messages(3)
    messages.insert(3, "[" * 100_000 + "]" * 100_000)

    async def scenario() -> MemorySink:
        async with serving(tls_files, transport=transport) as (receiver, sink, _):
            async with client(receiver.url, tls_files) as ws:
                await send_all(ws, messages)
            await wait_for(lambda: bool(sink.rows["streams"]))
            return sink

    sink = run_async(scenario)
    row = stream_row(sink, sid)
    assert (row["frames"], row["close_code"]) == (3, 1000)
    assert rules_failed(sink, sid).get("WS-JSON-001") == 1  # the stream goes on
    assert set(rules_failed(sink, sid)) <= {"WS-JSON-001", "WS-JSON-002"}
