"""What the receiver services share: common flags, JSON lines, stopping, exit codes.

``python -m receivers`` (media streams) and ``python -m receivers.callbacks``
(status callbacks) are started and read the same way by the harness: the same
flags for address, TLS files, run directory and timing; one JSON ``ready``
line, then ``stats`` lines, on stdout; a stop on SIGTERM, SIGINT or after
``--max-duration``; exit 0 done, 2 bad flags or environment, 3 records could
not be written. Keeping that contract in one place keeps the two from drifting.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import ssl
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

from harness.errors import ConfigError
from harness.tls import server_context


__all__ = [
    "EXIT_HARNESS",
    "EXIT_OK",
    "EXIT_USAGE",
    "Parser",
    "check_flags",
    "emit",
    "every",
    "exit_code",
    "listen_error",
    "parser",
    "records_dir",
    "run",
    "stop_event",
    "tls_context",
]

EXIT_OK, EXIT_USAGE, EXIT_HARNESS = 0, 2, 3


class Parser(argparse.ArgumentParser):
    """An argument parser whose syntax errors exit 2 with one line naming the fix."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: {message}; see {self.prog} --help\n")


def parser(
    prog: str, description: str, *, path: str, path_help: str, producer: str
) -> Parser:
    """A parser with the flags every service takes; the caller adds its own.

    ``path`` and ``producer`` are the defaults of ``--path`` and ``--producer``
    (and the examples :func:`check_flags` suggests).
    """
    p = Parser(prog=prog, description=description)
    add = p.add_argument
    add("--host", default="127.0.0.1", help="bind address (default: loopback)")
    add("--port", type=int, default=0, help="0 picks a free port")
    add("--cert-file", type=Path, required=True, help="PEM certificate chain")
    add("--key-file", type=Path, required=True, help="PEM private key")
    add("--run-dir", type=Path, required=True, help="records go to RUN_DIR/records")
    add("--producer", default=producer, help="this process's name in records")
    add("--path", default=path, help=path_help)
    add("--max-duration", type=float, default=3600.0, help="exit after, seconds")
    add("--stats-interval", type=float, default=1.0, help="seconds between stats")
    return p


def check_flags(
    a: argparse.Namespace, p: argparse.ArgumentParser, seconds: Sequence[str] = ()
) -> None:
    """Refuse out-of-range common flags, and non-positive ``seconds`` flags too.

    Raises:
        ConfigError: naming the flag, what is wrong and the fix.
    """
    if not 0 <= a.port <= 65535:
        raise ConfigError(
            "--port", f"{a.port} is out of range", "use 0..65535 (0 picks one)"
        )
    if not a.path.startswith("/"):
        raise ConfigError(
            "--path",
            f"{a.path!r} does not start with /",
            f"use e.g. {p.get_default('path')}",
        )
    for flag in ("--max-duration", "--stats-interval", *seconds):
        value = getattr(a, flag.removeprefix("--").replace("-", "_"))
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
    if not a.producer or "/" in a.producer:
        raise ConfigError(
            "--producer",
            f"{a.producer!r} is not a file-name part",
            f"use e.g. {p.get_default('producer')}",
        )


def emit(event: str, **fields: object) -> None:
    """One JSON line on stdout, flushed (the harness reads these)."""
    line = json.dumps({"event": event, **fields}, separators=(",", ":"))
    try:
        print(line, flush=True)
    except (BrokenPipeError, ValueError):
        pass  # nobody is reading any more; records still get written


def stop_event(max_duration: float) -> tuple[asyncio.Event, asyncio.TimerHandle]:
    """An event set by SIGTERM, SIGINT or after ``max_duration`` seconds.

    Cancel the returned timer once stopped, so it cannot fire into a later run.
    """
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    return stop, loop.call_later(max_duration, stop.set)


def tls_context(cert_file: Path, key_file: Path) -> ssl.SSLContext:
    """The server's TLS context.

    Raises:
        ConfigError: the files cannot be loaded or do not match.
    """
    try:
        return server_context(cert_file, key_file)
    except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
        raise ConfigError(
            "--cert-file/--key-file", f"cannot load ({exc})", "give a matching PEM pair"
        ) from exc


def records_dir(run_dir: Path) -> Path:
    """Create ``run_dir/records`` now, so a bad ``--run-dir`` fails before serving.

    Raises:
        ConfigError: it cannot be created or written.
    """
    records = run_dir / "records"
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
    return records


def listen_error(host: str, port: int, exc: OSError) -> ConfigError:
    """The usage error for an address that cannot be bound."""
    return ConfigError(
        "--host/--port",
        f"cannot listen on {host}:{port} ({exc.strerror})",
        "choose a free port, or 0",
    )


async def every(
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


def exit_code(errors: int, log: logging.Logger, run_dir: Path) -> int:
    """0, or 3 (logged) when ``errors`` record writes failed: the records are incomplete."""
    if errors:
        log.error(
            "%d record write(s) failed; records under %s are incomplete",
            errors,
            run_dir,
        )
        return EXIT_HARNESS
    return EXIT_OK


def run(prog: str, serve: Callable[[], int]) -> int:
    """Log to stderr, call ``serve`` and turn a :class:`ConfigError` into exit 2."""
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.WARNING,
        format="%(name)s: %(levelname)s: %(message)s",
    )
    try:
        return serve()
    except ConfigError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return EXIT_USAGE
