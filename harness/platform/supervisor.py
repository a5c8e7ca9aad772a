"""Own the running streams: start one task per accepted stream, stop them, shut them all down.

The REST handlers talk to this, never to a streamer directly, so the registry
(what the API reports) and the tasks (what is on the wire) cannot drift apart:
a stream that ends on its own (refused, dropped) is marked stopped here too,
which frees its ``Name``. Every stream's media go through one shared
:class:`~harness.platform.ticker.Ticker`, and every stream gets its own random
source seeded from ``seed`` and its ordinal, so ``--fault`` draws repeat with
the seed.
"""

from __future__ import annotations

import asyncio
import logging
import time

from harness.core.api import FieldError, StartStreamRequest
from harness.io.sink import RowSink
from harness.platform.callbacks import Callbacks
from harness.platform.core.dialect import Dialect
from harness.platform.core.faults import plan_stream, stream_rng
from harness.platform.core.state import Registry, Stream, StreamKind
from harness.platform.lane import run_bucket
from harness.platform.streamer import Counters, EndReason, Streamer, StreamerSettings
from harness.platform.ticker import Ticker
from harness.platform.workers import WorkerPool


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
        seed: int = 0,
        pool: WorkerPool | None = None,
    ) -> None:
        self.registry = registry
        self.settings = settings
        self.seed = seed
        self.counters = Counters()
        self.ticker = Ticker(burst=run_bucket)
        self._ordinal = 0
        self._sink = sink
        self._callbacks = callbacks
        self._running: dict[str, tuple[Streamer, asyncio.Task[None]]] = {}
        self._pool = pool
        self._remote: dict[str, Stream] = {}
        """Streams running in a worker process (``--workers``), by sid."""

    @property
    def frames_sent(self) -> int:
        """Frames written so far, here and in the workers."""
        pooled = self._pool.frames_sent if self._pool is not None else 0
        return self.counters.frames_sent + pooled

    def attach(self, pool: WorkerPool) -> None:
        """Stream through ``pool`` from now on (its callbacks are :meth:`remote_started` ...)."""
        self._pool = pool

    @property
    def sink(self) -> RowSink:
        """Where the platform's records go (the REST app logs injected API errors there)."""
        return self._sink

    @property
    def dialect(self) -> Dialect:
        return self.settings.dialect

    @property
    def account_sid(self) -> str:
        return self.settings.account_sid

    @property
    def running(self) -> int:
        """Stream tasks not yet finished (stopping ones included)."""
        return len(self._running) + (self._pool.running if self._pool else 0)

    def create(
        self,
        parent_sid: str,
        request: StartStreamRequest,
        kind: StreamKind = "conference",
    ) -> Stream | FieldError:
        """Accept a conference (or call) stream and start streaming it in the background."""
        conference = kind == "conference"
        stream = Stream(
            sid=self.dialect.new_sid("stream"),
            conference_sid=parent_sid if conference else "",
            call_sid=self.dialect.new_sid("call") if conference else parent_sid,
            request=request,
            created_ns=time.monotonic_ns(),
            updated_s=time.time(),
            kind=kind,
        )
        refused = self.registry.add(stream)
        if refused is not None:
            return refused
        ordinal = self._ordinal
        self._ordinal += 1
        if self._pool is not None:
            self._remote[stream.sid] = stream
            self._pool.create(stream, ordinal)
            return stream
        rng = stream_rng(self.seed, ordinal)
        streamer = Streamer(
            stream,
            self.settings,
            self._sink,
            self.counters,
            self,
            ticker=self.ticker,
            rng=rng,
            plan=plan_stream(self.settings.faults, rng),
        )
        task = asyncio.create_task(streamer.run(), name=f"stream-{stream.sid}")
        self._running[stream.sid] = (streamer, task)
        task.add_done_callback(self._reap)
        return stream

    def stop(self, stream: Stream, reason: EndReason = "stopped") -> None:
        """Mark ``stream`` stopped and have its streamer send ``stop``; idempotent."""
        self.registry.stop(stream, time.time())
        if self._pool is not None:
            if stream.sid in self._remote:
                self._pool.stop(stream.sid, reason)
            return
        entry = self._running.get(stream.sid)
        if entry is not None:
            entry[0].stop(reason)

    async def join(self, sid: str) -> None:
        """Wait until stream ``sid`` has ended (at once if it is not running)."""
        if self._pool is not None:
            await self._pool.join(sid)
            return
        entry = self._running.get(sid)
        if entry is not None:
            await asyncio.wait({entry[1]})

    async def shutdown(self, timeout_s: float = 5.0) -> None:
        """Stop every live stream (end_reason ``shutdown``) and wait for them, bounded."""
        for stream in self.registry.live():
            self.stop(stream, "shutdown")
        if self._pool is not None:
            await self._pool.shutdown(timeout_s)
        tasks = [task for _, task in self._running.values()]
        if not tasks:
            await self.ticker.close()
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
        await self.ticker.close()

    # -- StreamObserver -----------------------------------------------------

    def stream_started(self, streamer: Streamer) -> None:
        if self._callbacks is not None:
            self._callbacks.notify(streamer.stream, "stream-started")

    def stream_ended(self, streamer: Streamer) -> None:
        self._ended(
            streamer.stream,
            streamer.end_reason or "shutdown",
            bool(streamer.connected_ns),
            streamer.stream_error,
        )

    # -- the same events from a worker process --------------------------------

    def remote_started(self, sid: str) -> None:
        stream = self._remote.get(sid)
        if stream is not None and self._callbacks is not None:
            self._callbacks.notify(stream, "stream-started")

    def remote_ended(
        self, sid: str, reason: str, connected: bool, stream_error: str | None
    ) -> None:
        stream = self._remote.pop(sid, None)
        if stream is not None:
            self._ended(stream, reason, connected, stream_error)

    def _ended(
        self, stream: Stream, reason: str, connected: bool, stream_error: str | None
    ) -> None:
        self.registry.stop(stream, time.time())
        if self._callbacks is None:
            return
        # contract §4: a receiver that refuses, stalls or drops the connection
        # ends the stream with stream-error; a stop or a shutdown with stream-stopped.
        if reason in ("connect-failed", "disconnected"):
            self._callbacks.notify(
                stream, "stream-error", stream_error or "general_error"
            )
        elif connected:
            self._callbacks.notify(stream, "stream-stopped")

    def _reap(self, task: asyncio.Task[None]) -> None:
        sid = task.get_name().removeprefix("stream-")
        self._running.pop(sid, None)
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error("stream %s task failed", sid, exc_info=exc)
