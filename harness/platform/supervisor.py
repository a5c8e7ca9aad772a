"""Own the running streams: start one task per accepted stream, stop them, shut them all down.

The REST handlers talk to this, never to a streamer directly, so the registry
(what the API reports) and the tasks (what is on the wire) cannot drift apart:
a stream that ends on its own (refused, dropped) is marked stopped here too,
which frees its ``Name``.
"""

from __future__ import annotations

import asyncio
import logging
import time

from harness.api import FieldError, StartStreamRequest
from harness.platform.callbacks import Callbacks
from harness.platform.dialect import Dialect
from harness.platform.state import Registry, Stream
from harness.platform.streamer import Counters, EndReason, Streamer, StreamerSettings
from harness.sink import RowSink


__all__ = ["Supervisor"]

log = logging.getLogger(__name__)


class Supervisor:
    """Start, stop and account for every stream of one platform."""

    def __init__(
        self,
        registry: Registry,
        settings: StreamerSettings,
        sink: RowSink,
        *,
        callbacks: Callbacks | None = None,
    ) -> None:
        self.registry = registry
        self.settings = settings
        self.counters = Counters()
        self._sink = sink
        self._callbacks = callbacks
        self._running: dict[str, tuple[Streamer, asyncio.Task[None]]] = {}

    @property
    def dialect(self) -> Dialect:
        return self.settings.dialect

    @property
    def account_sid(self) -> str:
        return self.settings.account_sid

    @property
    def running(self) -> int:
        """Stream tasks not yet finished (stopping ones included)."""
        return len(self._running)

    def create(
        self, conference_sid: str, request: StartStreamRequest
    ) -> Stream | FieldError:
        """Accept a stream and start streaming it in the background."""
        stream = Stream(
            sid=self.dialect.new_sid("stream"),
            conference_sid=conference_sid,
            call_sid=self.dialect.new_sid("call"),
            request=request,
            created_ns=time.monotonic_ns(),
            updated_s=time.time(),
        )
        refused = self.registry.add(stream)
        if refused is not None:
            return refused
        streamer = Streamer(stream, self.settings, self._sink, self.counters, self)
        task = asyncio.create_task(streamer.run(), name=f"stream-{stream.sid}")
        self._running[stream.sid] = (streamer, task)
        task.add_done_callback(self._reap)
        return stream

    def stop(self, stream: Stream, reason: EndReason = "stopped") -> None:
        """Mark ``stream`` stopped and have its streamer send ``stop``; idempotent."""
        self.registry.stop(stream, time.time())
        entry = self._running.get(stream.sid)
        if entry is not None:
            entry[0].stop(reason)

    async def join(self, sid: str) -> None:
        """Wait until stream ``sid`` has ended (at once if it is not running)."""
        entry = self._running.get(sid)
        if entry is not None:
            await asyncio.wait({entry[1]})

    async def shutdown(self, timeout_s: float = 5.0) -> None:
        """Stop every live stream (end_reason ``shutdown``) and wait for them, bounded."""
        for stream in self.registry.live():
            self.stop(stream, "shutdown")
        tasks = [task for _, task in self._running.values()]
        if not tasks:
            return
        _, late = await asyncio.wait(tasks, timeout=timeout_s)
        for task in late:
            task.cancel()
        if late:
            log.warning(
                "%d streams did not close within %.1f s; cancelled",
                len(late),
                timeout_s,
            )
            await asyncio.wait(late)

    # -- StreamObserver -----------------------------------------------------

    def stream_started(self, streamer: Streamer) -> None:
        if self._callbacks is not None:
            self._callbacks.notify(streamer.stream, "stream-started")

    def stream_ended(self, streamer: Streamer) -> None:
        stream = streamer.stream
        self.registry.stop(stream, time.time())
        if self._callbacks is None:
            return
        if streamer.end_reason == "connect-failed":
            self._callbacks.notify(
                stream, "stream-error", streamer.stream_error or "general_error"
            )
        elif streamer.connected_ns:
            self._callbacks.notify(stream, "stream-stopped")

    def _reap(self, task: asyncio.Task[None]) -> None:
        sid = task.get_name().removeprefix("stream-")
        self._running.pop(sid, None)
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error("stream %s task failed", sid, exc_info=exc)
