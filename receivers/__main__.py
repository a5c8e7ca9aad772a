"""``python -m receivers``: serve wss media streams and record every frame.

Prints one JSON ``ready`` line on stdout once listening, then a ``stats`` line
every ``--stats-interval`` seconds (and a last one on exit). Stops on SIGTERM,
SIGINT or after ``--max-duration`` seconds: it stops accepting, closes open
connections with 1001, records every stream and flushes. Exit codes: 0 done,
2 bad flags or environment, 3 records could not be written. The expected
bearer token comes from ``STREAMLOAD_BEARER_TOKEN`` and is never printed.

With ``--processes N`` (N > 1) it runs N such receivers sharing one port
(SO_REUSEPORT, see :mod:`receivers.workers`) and prints one merged ``ready``
line and merged ``stats`` lines; each worker records as ``<producer>-<i>``.
Beside the frames, every receiver records its own health once a second (CPU,
event-loop lag, GC pauses) and per-codec/track histograms at each flush.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import gc
import json
import logging
import os
import signal
import sys
from pathlib import Path
from typing import NoReturn

import uvloop

from harness.errors import ConfigError
from harness.secret import Secret
from harness.sink import RecordSink
from harness.tls import server_context
from receivers.distributions import Distributions
from receivers.health import Monitor
from receivers.server import Receiver, ServerConfig
from receivers.sink import BatchSink
from receivers.workers import supervise


__all__ = ["TOKEN_ENV", "Options", "main", "parse_args", "run"]

TOKEN_ENV = "STREAMLOAD_BEARER_TOKEN"
EXIT_OK, EXIT_USAGE, EXIT_HARNESS = 0, 2, 3

logger = logging.getLogger("receivers")


@dataclasses.dataclass(frozen=True, slots=True)
class Options:
    """The parsed command line plus the token from the environment."""

    server: ServerConfig
    cert_file: Path
    key_file: Path
    run_dir: Path
    producer: str
    max_duration: float
    stats_interval: float
    flush_interval: float = 1.0
    processes: int = 1
    """Receiver processes sharing the port; 1 serves in this process."""
    exit_with_parent: bool = False
    """Stop when the parent process goes away (set on ``--processes`` workers)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        """Exit 2 with one line that names the fix (argparse prints usage too)."""
        self.exit(EXIT_USAGE, f"{self.prog}: {message}; see {self.prog} --help\n")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="python -m receivers",
        description="Serve wss media streams; record every frame.",
    )
    p.add_argument(
        "--host", default="127.0.0.1", help="bind address (default: loopback)"
    )
    p.add_argument("--port", type=int, default=0, help="0 picks a free port")
    p.add_argument(
        "--cert-file", type=Path, required=True, help="PEM certificate chain"
    )
    p.add_argument("--key-file", type=Path, required=True, help="PEM private key")
    p.add_argument(
        "--run-dir", type=Path, required=True, help="records go to RUN_DIR/records"
    )
    p.add_argument(
        "--producer", default="receiver-0", help="this process's name in records"
    )
    p.add_argument("--path", default="/stream", help="the only path accepted")
    p.add_argument(
        "--max-size", type=int, default=1_048_576, help="largest message, bytes"
    )
    p.add_argument(
        "--idle-timeout", type=float, default=30.0, help="seconds of silence"
    )
    p.add_argument(
        "--max-duration", type=float, default=3600.0, help="exit after, seconds"
    )
    p.add_argument(
        "--stats-interval", type=float, default=1.0, help="seconds between stats"
    )
    p.add_argument(
        "--reuse-port", action="store_true", help="share the port (SO_REUSEPORT)"
    )
    p.add_argument(
        "--processes",
        type=int,
        default=1,
        help="receiver processes sharing one port, e.g. one per core (default 1)",
    )
    p.add_argument("--exit-with-parent", action="store_true", help=argparse.SUPPRESS)
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
        raise ConfigError(
            "--port", f"{a.port} is out of range", "use 0..65535 (0 picks one)"
        )
    if not a.path.startswith("/"):
        raise ConfigError(
            "--path", f"{a.path!r} does not start with /", "use e.g. /stream"
        )
    if a.max_size < 1024:
        raise ConfigError(
            "--max-size", f"{a.max_size} is too small", "use at least 1024"
        )
    for flag, value in (
        ("--idle-timeout", a.idle_timeout),
        ("--max-duration", a.max_duration),
        ("--stats-interval", a.stats_interval),
    ):
        if not value > 0:  # also refuses NaN
            raise ConfigError(
                flag, f"{value} is not positive", "give a number of seconds > 0"
            )
    for flag, path in (("--cert-file", a.cert_file), ("--key-file", a.key_file)):
        if not path.is_file():
            raise ConfigError(
                flag, f"{str(path)!r} is not a file", "give a PEM file's path"
            )
    if a.run_dir.exists() and not a.run_dir.is_dir():
        raise ConfigError(
            "--run-dir", f"{str(a.run_dir)!r} is not a directory", "give a dir"
        )
    if not 1 <= a.processes <= 256:
        raise ConfigError(
            "--processes", f"{a.processes} is out of range", "use 1..256 (one per core)"
        )
    if not a.producer or "/" in a.producer:
        raise ConfigError(
            "--producer", f"{a.producer!r} is not a file-name part", "use receiver-N"
        )
    token = env.get(TOKEN_ENV, "")
    config = ServerConfig(
        host=a.host,
        port=a.port,
        path=a.path,
        max_size=a.max_size,
        idle_timeout=a.idle_timeout,
        token=Secret(token) if token else None,
        reuse_port=a.reuse_port,
    )
    return Options(
        server=config,
        cert_file=a.cert_file,
        key_file=a.key_file,
        run_dir=a.run_dir,
        producer=a.producer,
        max_duration=a.max_duration,
        stats_interval=a.stats_interval,
        processes=a.processes,
        exit_with_parent=a.exit_with_parent,
    )


def _emit(event: str, **fields: object) -> None:
    """One JSON line on stdout, flushed (the CLI reads these)."""
    line = json.dumps({"event": event, **fields}, separators=(",", ":"))
    try:
        print(line, flush=True)
    except (BrokenPipeError, ValueError):
        pass  # nobody is reading any more; records still get written


def _stats(receiver: Receiver, monitor: Monitor) -> dict[str, object]:
    """Counts plus the latest health figures (CPU share of the loop thread, lag)."""
    out: dict[str, object] = dict(receiver.stats())
    row = monitor.last
    if row is not None:
        interval, loop_cpu, p99, lag_max = (int(row[i]) for i in (3, 5, 7, 8))  # type: ignore[call-overload]
        out["cpu"] = round(loop_cpu / interval, 3) if interval > 0 else 0.0
        out["lag_p99_ms"] = round(p99 / 1e6, 3)
        out["lag_max_ms"] = round(lag_max / 1e6, 3)
    return out


async def _report(
    receiver: Receiver, monitor: Monitor, stop: asyncio.Event, interval: float
) -> None:
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), timeout=interval)
        except TimeoutError:
            _emit("stats", **_stats(receiver, monitor))


async def _watch_parent(stop: asyncio.Event, period: float = 0.5) -> None:
    """Set ``stop`` once the parent that started us is gone (we were re-parented)."""
    parent = os.getppid()
    while not stop.is_set():
        if os.getppid() != parent:
            logger.warning("parent %d is gone; stopping", parent)
            stop.set()
            return
        try:
            await asyncio.wait_for(stop.wait(), timeout=period)
        except TimeoutError:
            pass


async def main(options: Options) -> int:
    """Serve until a signal or ``max_duration``; return the exit code.

    Raises:
        ConfigError: the TLS files cannot be loaded or the address cannot be bound.
    """
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    deadline = loop.call_later(options.max_duration, stop.set)
    try:
        ctx = server_context(options.cert_file, options.key_file)
    except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
        raise ConfigError(
            "--cert-file/--key-file", f"cannot load ({exc})", "give a matching PEM pair"
        ) from exc
    records = options.run_dir / "records"
    try:
        records.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            "--run-dir",
            f"cannot create {str(records)!r} ({exc.strerror})",
            "give a writable directory",
        ) from exc
    if not os.access(records, os.W_OK | os.X_OK):
        raise ConfigError(
            "--run-dir",
            f"{str(records)!r} is not writable",
            "give a writable directory",
        )
    sink = BatchSink(RecordSink(options.run_dir, options.producer, "receiver"))
    dist = Distributions(options.producer)
    monitor = Monitor(options.producer, "receiver", sink)
    sink.before_flush += [lambda: dist.drain(sink), monitor.drain]
    await sink.flush()  # the producers row; also warms pyarrow before traffic
    # Everything alive now (modules, pyarrow, numpy) lives as long as the process:
    # keep it out of every later collection, so a full pass costs what the
    # connections hold, not what the imports hold (limits.md §3: 12-19 ms passes).
    gc.freeze()
    receiver = Receiver(options.server, ctx, sink, dist)
    try:
        url = await receiver.start()
    except OSError as exc:
        await sink.close()
        cfg = options.server
        raise ConfigError(
            "--host/--port",
            f"cannot listen on {cfg.host}:{cfg.port} ({exc.strerror})",
            "choose a free port, or 0",
        ) from exc
    _emit("ready", url=url, pid=os.getpid())
    tasks = [
        asyncio.create_task(receiver.sweep(stop)),
        asyncio.create_task(sink.run(stop, options.flush_interval)),
        asyncio.create_task(_report(receiver, monitor, stop, options.stats_interval)),
        asyncio.create_task(monitor.run(stop)),
    ]
    if options.exit_with_parent:
        tasks.append(asyncio.create_task(_watch_parent(stop)))
    try:
        await stop.wait()
    finally:
        deadline.cancel()
        await receiver.close(timeout=options.server.close_timeout + 1.0)
        await asyncio.gather(*tasks, return_exceptions=True)
        receiver.record_handshakes()
        await sink.close()
        _emit("stats", **_stats(receiver, monitor))
    if sink.errors:
        logger.error(
            "%d record write(s) failed; records under %s are incomplete",
            sink.errors,
            options.run_dir,
        )
        return EXIT_HARNESS
    return EXIT_OK


def run(argv: list[str] | None = None) -> int:
    """Entry point: parse, serve on uvloop, and map errors to exit codes."""
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.WARNING,
        format="%(name)s: %(levelname)s: %(message)s",
    )
    # websockets logs request headers (Authorization too) at DEBUG: keep it above.
    logging.getLogger("websockets").setLevel(logging.WARNING)
    try:
        options = parse_args(argv)
        if options.processes > 1:
            return uvloop.run(supervise(options, options.processes))
        return uvloop.run(main(options))
    except ConfigError as exc:
        print(f"python -m receivers: {exc}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(run())
