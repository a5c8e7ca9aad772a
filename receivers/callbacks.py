"""``python -m receivers.callbacks``: an HTTPS sink that checks and records status callbacks.

Give its URL as ``StatusCallback`` (api.md §1.1). Every request to ``--path``
(any method: a wrong one is a CB-003 finding, not a 405) is answered 200 and
handed to :class:`harness.callbacks.CallbackChecker`; rows go to
``RUN_DIR/records``: a ``callbacks`` row per request, flushed every
``--flush-interval`` seconds, and the per-stream ``rule_checks`` and
``violations`` (source ``callback``) once, at exit.

Prints one JSON ``ready`` line (``{"event":"ready","url":...,"pid":...}``),
then ``stats`` lines. Stops on SIGTERM, SIGINT or after ``--max-duration``
seconds and flushes everything. Exit codes: 0 done, 2 bad flags or
environment, 3 records could not be written. With ``SIGNALWIRE_SIGNING_KEY``
set, every callback's signature is checked (CB-004); the key is never printed.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

import uvloop
from aiohttp import web

from harness.callbacks import CallbackChecker
from harness.errors import ConfigError
from harness.records import MemorySink
from harness.secret import Secret
from harness.sink import RecordSink
from harness.tls import server_context


__all__ = ["SIGNING_KEY_ENV", "CallbackSink", "Options", "main", "parse_args", "run"]

SIGNING_KEY_ENV = "SIGNALWIRE_SIGNING_KEY"
EXIT_OK, EXIT_USAGE, EXIT_HARNESS = 0, 2, 3

logger = logging.getLogger("receivers.callbacks")


@dataclasses.dataclass(frozen=True, slots=True)
class Options:
    """The parsed command line plus the signing key from the environment."""

    cert_file: Path
    key_file: Path
    run_dir: Path
    host: str = "127.0.0.1"
    port: int = 0
    path: str = "/callbacks"
    producer: str = "callbacks"
    signing_key: Secret | None = None
    max_duration: float = 3600.0
    stats_interval: float = 1.0
    flush_interval: float = 1.0


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: {message}; see {self.prog} --help\n")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="python -m receivers.callbacks",
        description="Serve an HTTPS status-callback sink; check and record every callback.",
    )
    add = p.add_argument
    add("--host", default="127.0.0.1", help="bind address (default: loopback)")
    add("--port", type=int, default=0, help="0 picks a free port")
    add("--cert-file", type=Path, required=True, help="PEM certificate chain")
    add("--key-file", type=Path, required=True, help="PEM private key")
    add("--run-dir", type=Path, required=True, help="records go to RUN_DIR/records")
    add("--path", default="/callbacks", help="the path callbacks are sent to")
    add("--producer", default="callbacks", help="this process's name in records")
    add("--max-duration", type=float, default=3600.0, help="exit after, seconds")
    add("--stats-interval", type=float, default=1.0, help="seconds between stats")
    add("--flush-interval", type=float, default=1.0, help="seconds between writes")
    return p


def parse_args(
    argv: list[str] | None, environ: dict[str, str] | None = None
) -> Options:
    """Parse and check the flags; exits 2 on syntax errors.

    Raises:
        ConfigError: a value is out of range or a file is missing.
    """
    a = _parser().parse_args(argv)
    env = os.environ if environ is None else environ
    if not 0 <= a.port <= 65535:
        raise ConfigError("--port", f"{a.port} is out of range", "use 0..65535")
    if not a.path.startswith("/"):
        raise ConfigError(
            "--path", f"{a.path!r} does not start with /", "use e.g. /callbacks"
        )
    for flag, value in (
        ("--max-duration", a.max_duration),
        ("--stats-interval", a.stats_interval),
        ("--flush-interval", a.flush_interval),
    ):
        if not value > 0:
            raise ConfigError(flag, f"{value} is not positive", "give seconds > 0")
    for flag, path in (("--cert-file", a.cert_file), ("--key-file", a.key_file)):
        if not path.is_file():
            raise ConfigError(flag, f"{str(path)!r} is not a file", "give a PEM file")
    if a.run_dir.exists() and not a.run_dir.is_dir():
        raise ConfigError(
            "--run-dir", f"{str(a.run_dir)!r} is not a directory", "give a dir"
        )
    if not a.producer or "/" in a.producer:
        raise ConfigError(
            "--producer", f"{a.producer!r} is not a file-name part", "use callbacks"
        )
    key = env.get(SIGNING_KEY_ENV, "")
    return Options(
        cert_file=a.cert_file,
        key_file=a.key_file,
        run_dir=a.run_dir,
        host=a.host,
        port=a.port,
        path=a.path,
        producer=a.producer,
        signing_key=Secret(key) if key else None,
        max_duration=a.max_duration,
        stats_interval=a.stats_interval,
        flush_interval=a.flush_interval,
    )


def _emit(event: str, **fields: object) -> None:
    """One JSON line on stdout, flushed (the CLI reads these)."""
    try:
        print(json.dumps({"event": event, **fields}, separators=(",", ":")), flush=True)
    except (BrokenPipeError, ValueError):
        pass


class CallbackSink:
    """The aiohttp application plus the rows waiting to be written.

    Rows are buffered on the loop and written on a worker thread, one flush at
    a time, so a slow disk never delays an answer to the platform.
    """

    def __init__(self, options: Options, records: RecordSink) -> None:
        self.options = options
        self.records = records
        self.checker = CallbackChecker(options.signing_key)
        self.errors = 0
        self._buffer = MemorySink()
        self._lock = asyncio.Lock()

    def app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024)
        app.router.add_route("*", self.options.path, self._handle)
        return app

    async def _handle(self, request: web.Request) -> web.Response:
        at_ns = time.monotonic_ns()
        body = await request.read()
        # what the platform called, and signed: the Host it sent, the path and
        # query exactly as they came on the request line
        url = f"{request.scheme}://{request.host}{request.raw_path}"
        self.checker.receive(
            request.method, url, request.headers, body, at_ns, self._buffer
        )
        return web.Response(text="OK\n")

    def stats(self) -> dict[str, int]:
        return {
            "callbacks": self.checker.received,
            "streams": len(self.checker.streams),
            "violations": self.checker.violations,
        }

    async def flush(self) -> None:
        """Write the buffered rows on a worker thread."""
        async with self._lock:
            rows, self._buffer = self._buffer.rows, MemorySink()
            try:
                await asyncio.to_thread(self._write, rows)
            except Exception:  # a failed write must not stop the sink
                self.errors += 1
                logger.exception("writing records under %s failed", self.records.root)

    def _write(self, rows: dict[str, list[tuple[object, ...]]]) -> None:
        for table, batch in rows.items():
            for row in batch:
                self.records.add(table, row)
        self.records.flush()

    async def close(self) -> None:
        """Add every stream's rule rows and write what is left."""
        self.checker.close(self._buffer)
        await self.flush()


async def _every(
    interval: float, stop: asyncio.Event, action: Callable[[], object]
) -> None:
    """Call ``action`` (awaiting it if it is a coroutine) every ``interval`` until ``stop``."""
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), timeout=interval)
        except TimeoutError:
            result = action()
            if asyncio.iscoroutine(result):
                await result


async def main(options: Options) -> int:
    """Serve until a signal or ``max_duration``; return the exit code.

    Raises:
        ConfigError: the TLS files cannot be loaded, the run directory cannot
            be written or the address cannot be bound.
    """
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    deadline = loop.call_later(options.max_duration, stop.set)
    try:
        ctx = server_context(options.cert_file, options.key_file)
    except (OSError, ValueError) as exc:
        raise ConfigError(
            "--cert-file/--key-file", f"cannot load ({exc})", "give a matching PEM pair"
        ) from exc
    try:
        (options.run_dir / "records").mkdir(parents=True, exist_ok=True)
        records = RecordSink(options.run_dir, options.producer, "callback")
    except OSError as exc:
        raise ConfigError(
            "--run-dir",
            f"cannot write under {str(options.run_dir)!r} ({exc.strerror})",
            "give a writable directory",
        ) from exc
    sink = CallbackSink(options, records)
    runner = web.AppRunner(
        sink.app(), access_log=None, handle_signals=False, shutdown_timeout=2.0
    )
    await runner.setup()
    site = web.TCPSite(runner, options.host, options.port, ssl_context=ctx)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise ConfigError(
            "--host/--port",
            f"cannot listen on {options.host}:{options.port} ({exc.strerror})",
            "choose a free port, or 0",
        ) from exc
    port = runner.addresses[0][1]
    host = f"[{options.host}]" if ":" in options.host else options.host
    _emit("ready", url=f"https://{host}:{port}{options.path}", pid=os.getpid())
    tasks = [
        asyncio.create_task(_every(options.flush_interval, stop, sink.flush)),
        asyncio.create_task(
            _every(options.stats_interval, stop, lambda: _emit("stats", **sink.stats()))
        ),
    ]
    try:
        await stop.wait()
    finally:
        deadline.cancel()
        await runner.cleanup()  # answers in flight finish; then no more requests
        await asyncio.gather(*tasks, return_exceptions=True)
        await sink.close()
        _emit("stats", **sink.stats())
    if sink.errors:
        logger.error("%d record write(s) failed", sink.errors)
        return EXIT_HARNESS
    return EXIT_OK


def run(argv: list[str] | None = None) -> int:
    """Entry point: parse, serve on uvloop, and map errors to exit codes."""
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.WARNING,
        format="%(name)s: %(levelname)s: %(message)s",
    )
    try:
        options = parse_args(argv)
        return uvloop.run(main(options))
    except ConfigError as exc:
        print(f"python -m receivers.callbacks: {exc}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(run())
