"""Streams started, joined and shut down together (end_reason ``shutdown``)."""

from __future__ import annotations

import asyncio

from harness.core.api import StartStreamRequest
from harness.io.sink import MemorySink
from harness.io.tls import TlsFiles, client_context
from harness.platform.core.dialect import DIALECTS
from harness.platform.core.state import Conference, Registry, Stream
from harness.platform.streamer import StreamerSettings
from harness.platform.supervisor import Supervisor
from tests.harness.platform.support import Receiver, run


def supervisor(tls: TlsFiles, sink: MemorySink) -> Supervisor:
    dialect = DIALECTS["signalwire"]
    settings = StreamerSettings(
        account_sid="acc", ssl=client_context(tls.ca_file), dialect=dialect
    )
    return Supervisor(Registry([Conference("c1", "one", 0.0)]), settings, sink)


def test_shutdown_stops_every_live_stream(tls_files: TlsFiles) -> None:
    async def main() -> None:
        sink = MemorySink()
        sup = supervisor(tls_files, sink)
        async with Receiver(tls_files) as receiver:
            streams = [
                sup.create("c1", StartStreamRequest(url=receiver.url, name=f"s{i}"))
                for i in range(3)
            ]
            assert all(isinstance(s, Stream) for s in streams)
            for i in range(3):
                await receiver.wait_media(i, 1)
            assert (sup.running, sup.registry.live_count) == (3, 3)
            await sup.shutdown(5.0)
            for i in range(3):
                conn = await receiver.wait_closed(i)
                assert conn.events()[-1] == "stop"
        assert sup.running == 0
        assert sup.registry.live_count == 0
        assert [r[11] for r in sink.rows["platform_streams"]] == ["shutdown"] * 3
        assert sup.counters.frames_sent == len(sink.rows["sent_frames"])

    run(main())


def test_duplicate_name_is_refused_without_a_task(tls_files: TlsFiles) -> None:
    async def main() -> None:
        sup = supervisor(tls_files, MemorySink())
        first = sup.create("c1", StartStreamRequest(url="wss://127.0.0.1:9/", name="n"))
        assert isinstance(first, Stream)
        refused = sup.create(
            "c1", StartStreamRequest(url="wss://127.0.0.1:9/", name="n")
        )
        assert not isinstance(refused, Stream)
        assert refused.message == "Duplicated stream name"
        assert sup.running == 1
        await sup.join(first.sid)  # port 9 refuses: the stream ends on its own
        await sup.join("unknown")
        assert first.status == "stopped"
        await asyncio.wait_for(sup.shutdown(), 5)

    run(main())
