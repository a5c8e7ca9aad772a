"""``streamload callbacks`` (``python -m receivers.callbacks``): an HTTPS sink that checks and records status callbacks.

Give its URL as ``StatusCallback`` (contract §1.1). Every request to ``--path``
(any method: a wrong one is a CB-003 finding, not a 405) is answered 200 and
handed to :class:`harness.core.callbacks.CallbackChecker`; rows go to
``RUN_DIR/records``: a ``callbacks`` row per request, flushed every
``--flush-interval`` seconds, and the per-stream ``rule_checks`` and
``violations`` (source ``callback``) once, at exit.

Started with no flag it makes a throwaway CA under ``RUN_DIR/tls``; behind a
TLS terminator, ``--tls off --behind-proxy --public-url https://...`` serves
plain http and checks signatures against the public URL (see
:mod:`harness.io.deploy` for the address flags all services share).

Prints one JSON ``ready`` line (``{"event":"ready","url":...,"listen":...,
"ca_file":...,"pid":...}``),
then ``stats`` lines. Stops on SIGTERM, SIGINT or after ``--max-duration``
seconds and flushes everything. Exit codes: 0 done, 2 bad flags or
environment, 3 records could not be written. With ``SIGNALWIRE_SIGNING_KEY``
set, every callback's signature is checked (CB-004); the key is never printed.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import os
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import uvloop
from aiohttp import web

from harness.core.callbacks import CallbackChecker
from harness.core.lines import STATS
from harness.core.secret import Secret
from harness.io import lifeline
from harness.io.deploy import forwarded_client, local_url
from harness.io.lines import emit
from harness.io.recorder import Recorder
from harness.io.sink import RecordSink
from receivers import service


__all__ = ["SIGNING_KEY_ENV", "CallbackSink", "Options", "main", "parse_args", "run"]

SIGNING_KEY_ENV = "SIGNALWIRE_SIGNING_KEY"
PROG = "streamload callbacks"

logger = logging.getLogger("receivers.callbacks")


@dataclasses.dataclass(frozen=True, slots=True)
class Options:
    """The parsed command line plus the signing key from the environment."""

    cert_file: Path | None
    """``None`` with ``key_file``: plain http (``--tls off``) or a throwaway pair to make."""
    key_file: Path | None
    run_dir: Path
    host: str = "127.0.0.1"
    port: int = 0
    path: str = "/callbacks"
    producer: str = "callbacks"
    signing_key: Secret | None = None
    max_duration: float = 3600.0
    stats_interval: float = 1.0
    flush_interval: float = 1.0
    tls: bool = True
    """``--tls``: off serves plain http, for use behind a TLS terminator."""
    behind_proxy: bool = False
    public_url: str = ""
    """What the platform is told (the ready line's ``url``); ``""``: the local URL.
    Its scheme and host are also the URL a callback's signature is checked
    against, since a terminator changes both on the way in."""
    ca_file: Path | None = None
    """The throwaway CA that signed ``cert_file``, once made."""


def _parser() -> argparse.ArgumentParser:
    p = service.parser(
        PROG,
        "Serve an HTTPS status-callback sink; check and record every callback.",
        path="/callbacks",
        path_help="the path callbacks are sent to",
        producer="callbacks",
        public_example="https://cb.example.com/callbacks",
    )
    p.add_argument(
        "--flush-interval", type=float, default=1.0, help="seconds between writes"
    )
    return p


def parse_args(
    argv: list[str] | None, environ: dict[str, str] | None = None
) -> Options:
    """Parse and check the flags; exits 2 on syntax errors.

    Raises:
        ConfigError: a value is out of range or a file is missing.
    """
    p = _parser()
    a = p.parse_args(argv)
    env = os.environ if environ is None else environ
    address = service.check_flags(
        a, p, seconds=("--flush-interval",), public_schemes=("https", "http")
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
        tls=address.tls,
        behind_proxy=address.behind_proxy,
        public_url=address.public_url,
    )


class CallbackSink:
    """The aiohttp application plus the rows waiting to be written.

    Rows are buffered on the loop and written by the shared record writer
    (:class:`harness.io.recorder.Recorder`), so a slow disk never delays an
    answer to the platform. Callbacks have no bulk table: no row is ever
    dropped, a failed write is counted in :attr:`loss`.
    """

    def __init__(self, options: Options, records: RecordSink) -> None:
        self.options = options
        self.recorder = Recorder(records, "frames")
        self.loss = self.recorder.loss
        self.checker = CallbackChecker(options.signing_key)
        public = urlsplit(options.public_url) if options.public_url else None
        self._origin = f"{public.scheme}://{public.netloc}" if public else ""
        self._clients: set[str] = set()

    def app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024)
        app.router.add_route("*", self.options.path, self._handle)
        return app

    async def _handle(self, request: web.Request) -> web.Response:
        at_ns = time.monotonic_ns()
        body = await request.read()
        # what the platform called, and signed: the Host it sent (behind a
        # terminator, the public URL's scheme and host), the path and query
        # exactly as they came on the request line
        origin = self._origin or f"{request.scheme}://{request.host}"
        url = f"{origin}{request.raw_path}"
        if self.options.behind_proxy:
            self._log_client(request)
        self.checker.receive(
            request.method, url, request.headers, body, at_ns, self.recorder
        )
        return web.Response(text="OK\n")

    def _log_client(self, request: web.Request) -> None:
        """Log each new client a terminator names, once (logs only, never a check)."""
        client = forwarded_client(request.headers)
        if client and client not in self._clients and len(self._clients) < 100:
            self._clients.add(client)
            logger.info("callbacks from %s (via %s)", client, request.remote)

    def stats(self) -> dict[str, int]:
        return {
            "callbacks": self.checker.received,
            "streams": len(self.checker.streams),
            "violations": self.checker.violations,
            **self.loss.stats(),
        }

    async def flush(self) -> None:
        """Write the buffered rows on the writer thread and wait for them."""
        await self.recorder.flush()

    async def close(self) -> None:
        """Add every stream's rule rows, write what is left and the manifest."""
        self.checker.close(self.recorder)
        await self.recorder.close()


async def main(options: Options) -> int:
    """Serve until a signal or ``max_duration``; return the exit code.

    Raises:
        ConfigError: the TLS files cannot be loaded, the run directory cannot
            be written or the address cannot be bound.
    """
    stop, deadline = service.stop_event(options.max_duration)
    if options.tls and options.cert_file is None:
        cert, key, ca = service.tls_files(options.run_dir, None, None)
        options = dataclasses.replace(options, cert_file=cert, key_file=key, ca_file=ca)
    ctx = service.tls_context(options.cert_file, options.key_file)
    service.records_dir(options.run_dir)
    sink = CallbackSink(
        options, RecordSink(options.run_dir, options.producer, "callback")
    )
    runner = web.AppRunner(
        sink.app(), access_log=None, handle_signals=False, shutdown_timeout=2.0
    )
    await runner.setup()
    site = web.TCPSite(runner, options.host, options.port, ssl_context=ctx)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise service.listen_error(options.host, options.port, exc) from exc
    port = runner.addresses[0][1]
    scheme = "https" if ctx is not None else "http"
    local = local_url(scheme, options.host, port, options.path)
    service.ready(
        local,
        options.public_url,
        options.host,
        port,
        options.ca_file,
        run_dir=str(options.run_dir),
    )

    def report() -> None:
        emit(STATS, **sink.stats())

    tasks = [
        asyncio.create_task(sink.recorder.run(options.flush_interval, stop)),
        asyncio.create_task(service.every(options.stats_interval, stop, report)),
    ]
    try:
        await stop.wait()
    finally:
        deadline.cancel()
        await runner.cleanup()  # answers in flight finish; then no more requests
        await asyncio.gather(*tasks, return_exceptions=True)
        await sink.close()
        report()
    return service.exit_code(sink.loss, logger, options.run_dir)


def run(argv: list[str] | None = None) -> int:
    """Entry point: parse, serve on uvloop, and map errors to exit codes."""
    lifeline.arm()  # started by streamload: end with it

    def serve() -> int:
        options = parse_args(argv)
        if options.behind_proxy:  # the clients a terminator names, once each
            logger.setLevel(logging.INFO)
        return uvloop.run(main(options))

    return service.run(PROG, serve)


if __name__ == "__main__":
    sys.exit(run())
