"""receivers.transport_picows: what picows leaves to us and the module does itself.

Its behaviour towards peers (handshake, bearer, TLS, hostile frames, close
codes, records) is tested with websockets' in test_server.py and
test_connection.py, both parametrized over the transports.
"""

from __future__ import annotations

import pytest
from websockets.exceptions import InvalidStatus

from harness.core.records import MemorySink
from harness.core.secret import Secret
from harness.io.tls import TlsFiles
from tests.conftest import seconds
from tests.receivers.helpers import (
    client,
    row_dicts,
    run_async,
    send_all,
    serving,
    stream_messages,
    wait_for,
)


def test_a_refused_upgrade_names_the_scheme_and_reads_no_frame(
    tls_files: TlsFiles,
) -> None:
    async def scenario() -> tuple[int, str | None, MemorySink]:
        async with serving(tls_files, transport="picows", token=Secret("t0k")) as (
            receiver,
            sink,
            _,
        ):
            with pytest.raises(InvalidStatus) as info:
                async with client(receiver.url, tls_files):
                    pass
            assert receiver.accepted == 0 and not receiver.open
            response = info.value.response
            return response.status_code, response.headers.get("WWW-Authenticate"), sink

    status, challenge, sink = run_async(scenario)
    assert (status, challenge) == (401, 'Bearer realm="streamload"')
    assert sink.rows["streams"] == [] and sink.rows["frames"] == []


def test_pings_are_answered_and_are_not_messages(tls_files: TlsFiles) -> None:
    sid, messages = stream_messages(2)

    async def scenario() -> tuple[float, MemorySink]:
        async with serving(tls_files, transport="picows") as (receiver, sink, _):
            async with client(receiver.url, tls_files) as ws:
                await send_all(ws, messages[:3])
                latency = await (await ws.ping())
                await send_all(ws, messages[3:])
            await wait_for(lambda: bool(sink.rows["streams"]))
            return latency, sink

    latency, sink = run_async(scenario)
    assert 0 <= latency < seconds(2)
    (row,) = row_dicts(sink, "streams")
    assert (row["stream_sid"], row["frames"], row["violations"]) == (sid, 2, 0)
    assert row["close_code"] == 1000
