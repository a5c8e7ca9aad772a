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
import logging
import os
import signal
import ssl
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

from harness.core.errors import ConfigError
from harness.core.exits import EXIT_HARNESS, EXIT_PASS, EXIT_USAGE
from harness.core.lines import READY, ready_fields
from harness.core.record_loss import RecordLoss
from harness.io import deploy
from harness.io.lines import emit
from harness.io.tls import server_context, service_files


__all__ = [
    "Parser",
    "check_flags",
    "every",
    "exit_code",
    "listen_error",
    "parser",
    "ready",
    "records_dir",
    "run",
    "stop_event",
    "tls_context",
    "tls_files",
]


class Parser(argparse.ArgumentParser):
    """An argument parser whose syntax errors exit 2 with one line naming the fix."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: {message}; see {self.prog} --help\n")


def parser(
    prog: str,
    description: str,
    *,
    path: str,
    path_help: str,
    producer: str,
    public_example: str = "wss://rx.example.com/stream",
    service: str = "",
) -> Parser:
    """A parser with the flags every service takes; the caller adds its own.

    ``path`` and ``producer`` are the defaults of ``--path`` and ``--producer``
    (and the examples :func:`check_flags` suggests); the address, TLS and
    run-directory flags are :func:`harness.io.deploy.add_flags`'.
    """
    p = Parser(prog=prog, description=description)
    add = p.add_argument
    deploy.add_flags(p, service=service or producer, public_example=public_example)
    p.set_defaults(service=service or producer)
    add("--producer", default=producer, help="this process's name in records")
    add("--path", default=path, help=path_help)
    add("--max-duration", type=float, default=3600.0, help="exit after, seconds")
    add("--stats-interval", type=float, default=1.0, help="seconds between stats")
    return p


def check_flags(
    a: argparse.Namespace,
    p: argparse.ArgumentParser,
    seconds: Sequence[str] = (),
    *,
    public_schemes: tuple[str, ...] = ("wss", "ws"),
) -> deploy.Address:
    """Refuse out-of-range common flags, and non-positive ``seconds`` flags too.

    Also resolves the address flags (:func:`harness.io.deploy.resolve`), setting
    ``a.host``, ``a.port`` and ``a.run_dir``.

    Raises:
        ConfigError: naming the flag, what is wrong and the fix.
    """
    address = deploy.resolve(
        a, service=p.get_default("service"), public_schemes=public_schemes
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
    if not a.producer or "/" in a.producer:
        raise ConfigError(
            "--producer",
            f"{a.producer!r} is not a file-name part",
            f"use e.g. {p.get_default('producer')}",
        )
    return address


def tls_files(
    run_dir: Path, cert_file: Path | None, key_file: Path | None
) -> tuple[Path, Path, Path | None]:
    """``(cert, key, ca)``: the given pair, or a throwaway CA and loopback pair.

    The throwaway files go to ``RUN_DIR/tls``; ``ca`` (``None`` for the
    user's own pair) is what a client must trust, echoed in the ready line.

    Raises:
        ConfigError: the run directory cannot be written.
    """
    try:
        return service_files(run_dir / "tls", cert_file, key_file)
    except OSError as exc:
        raise ConfigError(
            "--run-dir",
            f"cannot write TLS files under {str(run_dir)!r} ({exc.strerror})",
            "give a writable directory, or --cert-file/--key-file",
        ) from exc


def ready(
    local: str,
    public: str,
    host: str,
    port: int,
    ca_file: Path | None,
    **fields: object,
) -> None:
    """The one ``ready`` line: ``url`` (what the platform dials), ``listen`` and
    ``local_url`` (where this process listens), ``ca_file`` (a throwaway CA)."""
    listen = deploy.format_listen(host, port)
    emit(
        READY,
        **ready_fields(local, public, listen, ca_file),
        pid=os.getpid(),
        **fields,
    )


def stop_event(max_duration: float) -> tuple[asyncio.Event, asyncio.TimerHandle]:
    """An event set by SIGTERM, SIGINT or after ``max_duration`` seconds.

    Cancel the returned timer once stopped, so it cannot fire into a later run.
    """
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()

    def stopping() -> None:
        # From here on the process is shutting down: a second signal (the run
        # signals a service's whole process group, and a --processes supervisor
        # its workers too) must not kill it halfway through its last flush,
        # after the loop has closed and taken its handlers with it.
        stop.set()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
            signal.signal(signum, signal.SIG_IGN)

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping)
    return stop, loop.call_later(max_duration, stop.set)


def tls_context(cert_file: Path | None, key_file: Path | None) -> ssl.SSLContext | None:
    """The server's TLS context; ``None`` (plain ws/http) without a certificate.

    Raises:
        ConfigError: the files cannot be loaded or do not match.
    """
    if cert_file is None or key_file is None:
        return None
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
        "--listen",
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


def exit_code(loss: RecordLoss, log: logging.Logger, run_dir: Path) -> int:
    """0, or 3 (logged) when rows were lost (failed writes, dropped rows): the
    records are incomplete, and the manifest under ``run_dir/producers`` says so."""
    if not loss.complete:
        log.error(
            "%d record write(s) failed (%d rows), %d rows dropped; records under %s "
            "are incomplete",
            loss.write_errors,
            loss.rows_failed,
            loss.rows_dropped,
            run_dir,
        )
        return EXIT_HARNESS
    return EXIT_PASS


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
