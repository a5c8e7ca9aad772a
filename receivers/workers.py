"""``python -m receivers --processes N``: N receiver processes behind one wss URL.

One asyncio process saturates one core near 900 paced streams (docs/performance.md §2),
so a host serves more by running a receiver per core on one port with
SO_REUSEPORT: the kernel spreads the platform's connections over the workers.
This supervisor owns no socket traffic. It reserves the port (when 0 is
asked), starts the workers, merges their ``ready`` lines into one and their
``stats`` lines into a sum, forwards SIGTERM/SIGINT, and exits with the
worst worker's code. Each worker records as its own producer
(``<producer>-<i>``), so the report merges them by listing files, exactly as
it merges machines.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import signal
import socket
import sys
from collections.abc import Mapping
from typing import Any

from harness.core import live
from harness.core.errors import ConfigError
from harness.core.exits import EXIT_HARNESS, EXIT_PASS
from harness.core.lines import EVENT, READY, STATS, decode
from harness.core.live import FIELD
from harness.io import lifeline
from harness.io.lines import emit
from receivers.options import Options, argv


__all__ = ["merge_stats", "supervise", "worker_argv"]

logger = logging.getLogger("receivers.workers")

_READY_TIMEOUT_S = 30.0
_MAX_STATS = ("cpu", "lag_p99_ms", "lag_max_ms")
"""Stats merged by maximum (the worst worker); every other number is summed."""


def merge_stats(stats: Mapping[int, Mapping[str, Any]]) -> dict[str, Any]:
    """One stats line from the latest line of each worker (live objects aside)."""
    out: dict[str, Any] = {}
    for line in stats.values():
        for key, value in line.items():
            if key in (EVENT, "pid") or isinstance(value, bool):
                continue
            if not isinstance(value, int | float):
                continue
            if key in _MAX_STATS:
                out[key] = max(out.get(key, value), value)
            else:
                out[key] = out.get(key, 0) + value
    out["workers"] = len(stats)
    return out


def worker_argv(options: Options, port: int, index: int) -> list[str]:
    """The command line of worker ``index`` (0-based), without the interpreter.

    The supervisor's own options, but for what makes it a worker: the reserved
    port shared with SO_REUSEPORT, one process and its own producer name. The
    supervisor's pid goes in its environment (:func:`supervise`), so it stops
    when the supervisor goes away (harness/io/lifeline.py).
    """
    worker = dataclasses.replace(
        options,
        server=dataclasses.replace(options.server, port=port, reuse_port=True),
        producer=f"{options.producer}-{index + 1}",
        processes=1,
    )
    return ["-m", "receivers", *argv(worker)]


def _reserve(host: str, port: int) -> socket.socket:
    """Bind (not listen) a SO_REUSEPORT socket so the port stays ours while workers start."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(
            "--host/--port",
            f"cannot bind {host}:{port} ({exc.strerror})",
            "choose a free port, or 0",
        ) from exc
    return sock


class _LiveSum:
    """The workers' live objects (deltas, :mod:`harness.core.live`) since the last line."""

    def __init__(self) -> None:
        self.pending = live.Live()
        self.seq = 0

    def take(self) -> dict[str, Any]:
        """The next line's object: every worker's deltas since, their streams open now."""
        self.seq += 1
        doc = self.pending.doc(self.seq)
        self.pending.tracks, self.pending.started = {}, {}
        return doc


class _Worker:
    def __init__(self, proc: asyncio.subprocess.Process, live_sum: _LiveSum) -> None:
        self.proc = proc
        self.live = live_sum
        self.ready: asyncio.Future[dict[str, Any]] = (
            asyncio.get_running_loop().create_future()
        )
        self.stats: dict[str, Any] = {}

    async def read(self) -> None:
        """Take the worker's JSON lines until it closes stdout."""
        assert self.proc.stdout is not None
        while line := await self.proc.stdout.readline():
            event = decode(line)
            if event is None:
                continue
            if event.get(EVENT) == READY and not self.ready.done():
                self.ready.set_result(event)
            elif event.get(EVENT) == STATS:
                self.stats = event
                if FIELD in event:
                    self.live.pending.feed(str(self.proc.pid), event[FIELD])
        if not self.ready.done():
            self.ready.set_exception(EOFError("worker exited before it was ready"))


async def supervise(options: Options, processes: int) -> int:
    """Run ``processes`` workers until a signal, ``max_duration`` or their exit.

    Returns the exit code: the highest of the workers' (3 if one never got ready).
    """
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    reserved = _reserve(options.server.host, options.server.port)
    port = reserved.getsockname()[1]
    workers: list[_Worker] = []
    live_sum = _LiveSum()
    readers: list[asyncio.Task[None]] = []
    try:
        for i in range(processes):
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                *worker_argv(options, port, i),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                # tied to this supervisor (harness/io/lifeline.py) even when it
                # was started by hand, not by streamload. (A worker's own watch
                # of getppid(), used until 2026-12-03, could read init's pid if
                # the supervisor was killed as the worker started, and serve on.)
                env={**os.environ, **lifeline.child_env()},
            )
            worker = _Worker(proc, live_sum)
            workers.append(worker)
            readers.append(asyncio.create_task(worker.read()))
        try:
            async with asyncio.timeout(_READY_TIMEOUT_S):
                ready = [await w.ready for w in workers]
        except (TimeoutError, EOFError) as exc:
            logger.error("a receiver worker did not start: %s", exc or "timeout")
            _stop_all(workers)
            await _wait_all(workers)
            return EXIT_HARNESS
        finally:
            reserved.close()
        emit(
            READY,
            **{k: v for k, v in ready[0].items() if k not in (EVENT, "pid")},
            pid=os.getpid(),
            workers=[w.proc.pid for w in workers],
        )
        exited = asyncio.ensure_future(
            asyncio.wait(
                [asyncio.ensure_future(w.proc.wait()) for w in workers],
                return_when=asyncio.FIRST_COMPLETED,
            )
        )
        stopping = asyncio.ensure_future(stop.wait())
        while not stop.is_set() and not exited.done():
            await asyncio.wait([stopping, exited], timeout=options.stats_interval)
            if not stop.is_set() and not exited.done():
                emit(STATS, **_stats(workers), **{FIELD: live_sum.take()})
        stopping.cancel()
        _stop_all(workers)
        codes = await _wait_all(workers)
        await asyncio.gather(*readers, return_exceptions=True)
        exited.cancel()
        emit(STATS, **_stats(workers), **{FIELD: live_sum.take()})
        # A worker killed by a signal (negative code) means lost records: 3.
        return max((c if c >= 0 else EXIT_HARNESS for c in codes), default=EXIT_PASS)
    finally:
        reserved.close()
        _stop_all(workers, signal.SIGKILL)


def _stats(workers: list[_Worker]) -> dict[str, Any]:
    return merge_stats({w.proc.pid: w.stats for w in workers if w.stats})


def _stop_all(workers: list[_Worker], sig: int = signal.SIGTERM) -> None:
    for w in workers:
        if w.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                w.proc.send_signal(sig)


async def _wait_all(workers: list[_Worker], timeout: float = 60.0) -> list[int]:
    """Wait for every worker; kill those still running after ``timeout`` s."""
    try:
        async with asyncio.timeout(timeout):
            return [await w.proc.wait() for w in workers]
    except TimeoutError:
        _stop_all(workers, signal.SIGKILL)
        return [await w.proc.wait() for w in workers]
