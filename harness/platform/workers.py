"""``--workers N``: stream from N processes, one per core, behind one REST API.

One process paces a few hundred streams per core within 2 ms (docs/performance.md §3),
so more cores need more processes. The parent keeps everything that must be
one: the REST API, the registry (names, stop by sid or name) and the status
callbacks. It hands each accepted stream to the worker with the fewest live
streams, over the worker's stdin, as one JSON line; the worker dials, paces
and records it (its records under its own producer name, ``platform-w1``
...), and reports ``started`` and ``ended`` back on its stdout, which the
parent turns into registry updates and callbacks, exactly as for a local
stream. A worker whose parent goes away sees its stdin close and shuts down.

Run a worker with ``python -m harness.platform.workers`` (the parent does);
its first stdin line is its configuration. Bearer tokens cross the pipe, never
a log or a record.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import json
import logging
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import uvloop

from harness.core.api import StartStreamRequest
from harness.core.exits import EXIT_PASS
from harness.core.lines import EVENT, READY, STATS, decode
from harness.core.secret import Secret
from harness.io import runtime
from harness.io.lines import emit
from harness.io.recorder import Recorder
from harness.io.sink import RecordSink
from harness.io.tls import client_context
from harness.platform.core.defects import parse_defects
from harness.platform.core.dialect import DIALECTS
from harness.platform.core.faults import parse_faults, plan_stream, stream_rng
from harness.platform.core.state import Stream
from harness.platform.health import Health
from harness.platform.lane import run_bucket
from harness.platform.sendlog import SendLog
from harness.platform.streamer import Counters, EndReason, Streamer, StreamerSettings
from harness.platform.ticker import Ticker


__all__ = ["WorkerPool", "request_from_json", "request_to_json", "serve_worker"]

log = logging.getLogger(__name__)

Started = Callable[[str], None]
Ended = Callable[[str, str, bool, "str | None"], None]
"""``ended(sid, end_reason, connected, stream_error)``."""


def request_to_json(stream: Stream) -> dict[str, Any]:
    """One stream and its request as a JSON object (the bearer token in clear: a pipe only)."""
    r = stream.request
    return {
        "sid": stream.sid,
        "conference_sid": stream.conference_sid,
        "call_sid": stream.call_sid,
        "created_ns": stream.created_ns,
        "updated_s": stream.updated_s,
        "kind": stream.kind,
        "request": {
            "url": r.url,
            "name": r.name,
            "track": r.track,
            "codec": r.codec,
            "real_time": r.real_time,
            "status_callback": r.status_callback,
            "status_callback_method": r.status_callback_method,
            "parameters": [list(p) for p in r.parameters],
            "bearer_token": r.bearer_token.reveal() if r.bearer_token else None,
        },
    }


def request_from_json(doc: dict[str, Any]) -> Stream:
    """The inverse of :func:`request_to_json`."""
    r = dict(doc["request"])
    token = r.pop("bearer_token")
    request = StartStreamRequest(
        **{**r, "parameters": tuple((n, v) for n, v in r["parameters"])},
        bearer_token=Secret(token) if token else None,
    )
    return Stream(
        sid=doc["sid"],
        conference_sid=doc["conference_sid"],
        call_sid=doc["call_sid"],
        request=request,
        created_ns=doc["created_ns"],
        updated_s=doc["updated_s"],
        kind=doc["kind"],
    )


# -- parent side ----------------------------------------------------------------


@dataclasses.dataclass
class _Worker:
    proc: asyncio.subprocess.Process
    live: set[str] = dataclasses.field(default_factory=set)
    frames_sent: int = 0
    reader: asyncio.Task[None] | None = None


class WorkerPool:
    """The parent's handle on N worker processes."""

    def __init__(
        self, count: int, config: dict[str, Any], started: Started, ended: Ended
    ) -> None:
        self._count = count
        self._config = config
        self._started = started
        self._ended = ended
        self._workers: list[_Worker] = []
        self._owner: dict[str, _Worker] = {}
        self._done: dict[str, asyncio.Event] = {}

    @property
    def frames_sent(self) -> int:
        return sum(w.frames_sent for w in self._workers)

    @property
    def running(self) -> int:
        return len(self._owner)

    @property
    def pids(self) -> list[int]:
        return [w.proc.pid for w in self._workers]

    async def start(self, timeout_s: float = 30.0) -> None:
        """Start every worker and wait until each says it is ready."""
        for i in range(1, self._count + 1):
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "harness.platform.workers",
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
            )
            worker = _Worker(proc)
            self._workers.append(worker)
            self._send(worker, {**self._config, "index": i})
        async with asyncio.timeout(timeout_s):
            for worker in self._workers:
                assert worker.proc.stdout is not None
                line = decode(await worker.proc.stdout.readline()) or {}
                if line.get(EVENT) != READY:
                    raise RuntimeError(f"worker {worker.proc.pid} did not start")
                worker.reader = asyncio.create_task(self._read(worker))

    def create(self, stream: Stream, ordinal: int) -> None:
        """Hand ``stream`` to the least busy worker."""
        worker = min(self._workers, key=lambda w: len(w.live))
        worker.live.add(stream.sid)
        self._owner[stream.sid] = worker
        self._done[stream.sid] = asyncio.Event()
        self._send(
            worker, {"op": "create", "ordinal": ordinal, **request_to_json(stream)}
        )

    def stop(self, sid: str, reason: EndReason) -> None:
        worker = self._owner.get(sid)
        if worker is not None:
            self._send(worker, {"op": "stop", "sid": sid, "reason": reason})

    async def join(self, sid: str) -> None:
        done = self._done.get(sid)
        if done is not None:
            await done.wait()

    async def shutdown(self, timeout_s: float) -> None:
        """Have every worker stop its streams and flush; kill the ones that do not exit."""
        for worker in self._workers:
            self._send(worker, {"op": "shutdown"})
            if worker.proc.stdin is not None:
                worker.proc.stdin.close()
        waits = [asyncio.create_task(w.proc.wait()) for w in self._workers]
        if waits:
            _, late = await asyncio.wait(waits, timeout=timeout_s + 5.0)
            for worker in self._workers:
                if worker.proc.returncode is None:
                    log.warning("worker %d did not exit; killed", worker.proc.pid)
                    worker.proc.kill()
            if late:
                await asyncio.wait(late)
        readers = [w.reader for w in self._workers if w.reader is not None]
        if readers:
            await asyncio.wait(readers, timeout=5.0)

    def _send(self, worker: _Worker, message: dict[str, Any]) -> None:
        stdin = worker.proc.stdin
        if stdin is None or stdin.is_closing():
            return
        stdin.write(json.dumps(message, separators=(",", ":")).encode() + b"\n")

    async def _read(self, worker: _Worker) -> None:
        stdout = worker.proc.stdout
        assert stdout is not None
        while line := await stdout.readline():
            event = decode(line)
            if event is None:
                continue
            kind = event.get(EVENT)
            if kind == STATS:
                worker.frames_sent = event["frames_sent"]
            elif kind == "started":
                self._started(event["sid"])
            elif kind == "ended":
                sid = event["sid"]
                worker.live.discard(sid)
                self._owner.pop(sid, None)
                done = self._done.pop(sid, None)
                if done is not None:
                    done.set()
                self._ended(
                    sid, event["reason"], event["connected"], event["stream_error"]
                )
        # A worker that died ends its streams (they are no longer on the wire).
        for sid in list(worker.live):
            worker.live.discard(sid)
            self._owner.pop(sid, None)
            done = self._done.pop(sid, None)
            if done is not None:
                done.set()
            self._ended(sid, "disconnected", True, "general_error")


# -- worker side ------------------------------------------------------------------


class _Reporter:
    """The worker's stream observer: each start and end goes to the parent as a line."""

    def __init__(self, out: Callable[..., None]) -> None:
        self._out = out

    def stream_started(self, streamer: Streamer) -> None:
        self._out("started", sid=streamer.stream.sid)

    def stream_ended(self, streamer: Streamer) -> None:
        self._out(
            "ended",
            sid=streamer.stream.sid,
            reason=streamer.end_reason,
            connected=bool(streamer.connected_ns),
            stream_error=streamer.stream_error,
        )


def _forget(
    streamers: dict[str, tuple[Streamer, asyncio.Task[None]]],
    sid: str,
    _: asyncio.Task[None],
) -> None:
    streamers.pop(sid, None)


def _settings(config: dict[str, Any]) -> StreamerSettings:
    """Every stream's settings, from the parent's config."""
    ca_file = Path(config["ca_file"]) if config["ca_file"] else None
    return StreamerSettings(
        account_sid=config["account_sid"],
        ssl=client_context(ca_file, verify=config["validate_certificate"]),
        dialect=DIALECTS[config["dialect"]],
        l16_byte_order=config["l16_byte_order"],
        faults=parse_faults(config["faults"]),
        defects=parse_defects(config["defects"]),
    )


async def _stop_streams(
    streamers: dict[str, tuple[Streamer, asyncio.Task[None]]],
) -> None:
    """Stop every stream (its stop message sent), cancelling any still sending after 5 s."""
    for streamer, _ in list(streamers.values()):
        streamer.stop("shutdown")
    tasks = [task for _, task in streamers.values()]
    if tasks:
        _, late = await asyncio.wait(tasks, timeout=5.0)
        for task in late:
            task.cancel()
        if late:
            await asyncio.wait(late)


async def serve_worker(config: dict[str, Any], commands: asyncio.StreamReader) -> None:
    """Run streams as the parent says until it says ``shutdown`` or goes away."""
    settings = _settings(config)
    producer = f"{config['producer']}-w{config['index']}"
    recorder = Recorder(
        RecordSink(Path(config["run_dir"]), producer, "platform"),
        "sent_frames",
        buffer=SendLog,
    )
    health = Health(producer, recorder)
    counters = Counters()
    ticker = Ticker(burst=run_bucket)
    reporter = _Reporter(emit)
    streamers: dict[str, tuple[Streamer, asyncio.Task[None]]] = {}
    seed = int(config["seed"])
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stopping.set)
    runtime.settle()  # the collector and the GIL out of the send times

    async def stats() -> None:
        while True:
            await asyncio.sleep(0.5)
            emit(STATS, frames_sent=counters.frames_sent)

    async def commands_loop() -> None:
        while line := await commands.readline():
            doc = json.loads(line)
            op = doc.get("op")
            if op == "create":
                stream = request_from_json(doc)
                rng = stream_rng(seed, int(doc["ordinal"]))
                streamer = Streamer(
                    stream,
                    settings,
                    recorder,
                    counters,
                    reporter,
                    ticker=ticker,
                    rng=rng,
                    plan=plan_stream(settings.faults, rng),
                )
                task = asyncio.create_task(streamer.run())
                streamers[stream.sid] = (streamer, task)
                task.add_done_callback(
                    functools.partial(_forget, streamers, stream.sid)
                )
            elif op == "stop":
                entry = streamers.get(doc["sid"])
                if entry is not None:
                    entry[0].stop(doc["reason"])
            elif op == "shutdown":
                break
        stopping.set()

    background = [
        asyncio.create_task(recorder.run(1.0)),
        asyncio.create_task(health.run()),
        asyncio.create_task(stats()),
        asyncio.create_task(commands_loop()),
    ]
    emit(READY, pid=os.getpid())
    await stopping.wait()
    await _stop_streams(streamers)
    await ticker.close()
    for task in background:
        task.cancel()
    await asyncio.gather(*background, return_exceptions=True)
    await recorder.close()
    emit(STATS, frames_sent=counters.frames_sent)


async def _main() -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=2**20)
    await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), sys.stdin
    )
    line = await reader.readline()
    if not line:
        return
    await serve_worker(json.loads(line), reader)


def main() -> int:
    # The parent owns Ctrl-C: a terminal's SIGINT reaches the whole group.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    sys.setswitchinterval(0.0005)
    uvloop.run(_main())
    return EXIT_PASS


if __name__ == "__main__":
    sys.exit(main())
