"""``python -m harness.platform``: serve the reference platform on loopback until told to stop.

``streamload platform`` with no flag starts it as is: a throwaway CA and
loopback certificate under ``RUN_DIR/tls`` (the ready line's ``ca_file``), a
random API token in ``RUN_DIR/api-token`` (``token_file``) unless
``SIGNALWIRE_API_TOKEN`` is set, and the address flags every deployable
service shares (:mod:`harness.io.deploy`).

Standard output carries machine-readable JSON lines only (one ``ready`` line,
then ``stats`` lines) so a parent process can wait on it; logs go to standard
error. The process ends by itself after ``--max-duration`` seconds, on SIGTERM
or SIGINT (later ones are ignored while it shuts down); either way every live stream is stopped (``stop`` sent, socket
closed, end_reason ``shutdown``) and the records are flushed before exit 0.

``--fault NAME=VALUE`` injects seeded impairments (harness/platform/core/faults.py)
and ``--defect NAME`` one deliberate contract breach each
(harness/platform/core/defects.py); the ready line echoes both and the seed, so a
run can be repeated.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import os
import random
import secrets
import signal
import ssl
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

import uvloop
from aiohttp import web

from harness.core.codecs import ByteOrder
from harness.core.errors import ConfigError
from harness.core.exits import EXIT_HARNESS, EXIT_PASS, EXIT_USAGE
from harness.core.lines import READY, STATS, ready_fields
from harness.core.secret import Secret
from harness.core.target import is_loopback
from harness.io import deploy, lifeline, runtime
from harness.io.deploy import format_listen, local_url
from harness.io.lines import emit
from harness.io.recorder import Recorder
from harness.io.sink import RecordSink
from harness.io.tls import client_context, server_context, service_files
from harness.platform.callbacks import Callbacks
from harness.platform.core.defects import parse_defects
from harness.platform.core.dial import DialPolicy
from harness.platform.core.dialect import DIALECTS, Dialect
from harness.platform.core.faults import Faults, parse_faults
from harness.platform.core.state import Call, Conference, Registry
from harness.platform.health import Health
from harness.platform.sendlog import SendLog
from harness.platform.server import Api
from harness.platform.streamer import StreamerSettings
from harness.platform.supervisor import Supervisor
from harness.platform.workers import WorkerPool


__all__ = ["Options", "build_parser", "main", "serve"]

log = logging.getLogger("harness.platform")

TOKEN_ENV = "SIGNALWIRE_API_TOKEN"
SIGNING_KEY_ENV = "SIGNALWIRE_SIGNING_KEY"
FLUSH_INTERVAL_S = 1.0
"""How often buffered records are written: a crash loses at most about this much."""
SHUTDOWN_GRACE_S = 5.0


@dataclasses.dataclass(frozen=True, slots=True)
class Options:
    """Validated command-line options."""

    host: str
    port: int
    cert_file: Path | None
    """``None`` with ``key_file``: plain http (``--tls off``) or a throwaway pair."""
    key_file: Path | None
    ca_file: Path | None
    """The CA trusted when dialing receivers and callbacks (``--ca-file``)."""
    validate_certificate: bool
    run_dir: Path
    producer: str
    account_sid: str
    conferences: int
    calls: int
    dialect: Dialect
    stats_interval_s: float
    max_duration_s: float
    token: Secret
    signing_key: Secret | None
    l16_byte_order: ByteOrder
    faults: Faults
    defects: frozenset[str]
    seed: int
    workers: int
    tls: bool = True
    behind_proxy: bool = False
    public_url: str = ""
    """What clients must call (the ready line's ``url``); ``""``: the local URL."""
    token_generated: bool = False
    """No token was given: ``token`` is random and written to ``RUN_DIR/api-token``."""
    dial: DialPolicy = DialPolicy()
    """Where create requests may make it connect (loopback and ``--allow-dial``)."""
    public: bool = False
    """``--public``: listening off loopback was asked for (a warning is printed)."""

    @classmethod
    def from_args(cls, args: argparse.Namespace, environ: Mapping[str, str]) -> Options:
        """Check the parsed arguments.

        Raises:
            ConfigError: a value is missing or out of range.
        """
        address = deploy.resolve(
            args,
            service="platform",
            public_schemes=("https", "http"),
            check_files=False,  # serve() says "cannot load", naming --ca-file too
        )
        token = args.auth_token or environ.get(TOKEN_ENV) or ""
        generated = not token
        if generated:  # written to RUN_DIR/api-token (0600), never printed
            token = secrets.token_urlsafe(24)
        _check_counts(args)
        dialect = DIALECTS[args.dialect]
        faults = parse_faults(args.fault)
        defects = parse_defects(args.defect)
        seed = (
            args.seed
            if args.seed is not None
            else random.SystemRandom().randrange(2**31)
        )
        signing_key = args.signing_key or environ.get(SIGNING_KEY_ENV)
        dial = DialPolicy.from_flags(args.allow_dial)
        if not is_loopback(address.host) and not args.public:
            raise ConfigError(
                "--listen",
                f"{address.host} is not a loopback address, so anyone who can reach "
                "it could use the platform",
                "add --public to serve other hosts on purpose, or listen on 127.0.0.1",
            )
        return cls(
            host=address.host,
            port=address.port,
            cert_file=address.cert_file,
            key_file=address.key_file,
            ca_file=Path(args.ca_file) if args.ca_file else None,
            validate_certificate=args.validate_certificate,
            run_dir=address.run_dir,
            producer=args.producer,
            account_sid=args.account_sid or dialect.new_sid("account"),
            conferences=args.conferences,
            calls=args.calls,
            dialect=dialect,
            stats_interval_s=args.stats_interval,
            max_duration_s=args.max_duration,
            token=Secret(token),
            signing_key=Secret(signing_key) if signing_key else None,
            l16_byte_order=args.l16_byte_order,
            faults=faults,
            defects=defects,
            seed=seed,
            workers=args.workers,
            tls=address.tls,
            behind_proxy=address.behind_proxy,
            public_url=address.public_url,
            token_generated=generated,
            dial=dial,
            public=not is_loopback(address.host),
        )


def _check_counts(args: argparse.Namespace) -> None:
    """The numeric flags in range, each refusal naming its flag and the fix."""
    if args.conferences < 0:  # 0: an idle space, for discovery to find none
        raise ConfigError(
            "--conferences", f"{args.conferences} is too few", "use 0 or more"
        )
    if args.workers < 1:
        raise ConfigError(
            "--workers", f"{args.workers} is too few", "use 1 (in process) or more"
        )
    if args.calls < 0:
        raise ConfigError("--calls", f"{args.calls} is too few", "use 0 or more")
    if not args.stats_interval > 0:
        raise ConfigError(
            "--stats-interval",
            f"{args.stats_interval} is not positive",
            "use e.g. 1.0",
        )
    if not args.max_duration > 0:
        raise ConfigError(
            "--max-duration",
            f"{args.max_duration} is not positive",
            "use e.g. 3600",
        )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="streamload platform",
        description="Serve the streamload reference platform (conference media streams) over HTTPS.",
    )
    add = parser.add_argument
    deploy.add_flags(
        parser, service="platform", public_example="https://platform.example.com"
    )
    _add_security_flags(add)
    _add_media_flags(add)
    add("--stats-interval", type=float, default=1.0, help="seconds between stats lines")
    add(
        "--max-duration",
        type=float,
        default=3600.0,
        help="exit after this many seconds",
    )
    add("--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    return parser


def _add_security_flags(add: Callable[..., object]) -> None:
    """TLS towards receivers, the project's identity, its API token and signing key."""
    add("--ca-file", help="CA to trust when dialing receivers (and status callbacks)")
    add(
        "--validate-certificate",
        action="store_true",
        help="verify receivers' TLS certificates (off by default, like streamSslValidateCertificate)",
    )
    add(
        "--producer",
        default="platform",
        help="producer name in the records (default: %(default)s)",
    )
    add(
        "--allow-dial",
        action="append",
        default=[],
        metavar="HOST[:PORT]",
        help="also dial this host (any port, or only PORT) for Url and StatusCallback; "
        "by default only loopback is dialled (repeatable)",
    )
    add(
        "--public",
        action="store_true",
        help="allow --listen/--host off loopback (prints a warning: anyone who can "
        "reach the address and holds the API token can use the platform)",
    )
    add("--account-sid", help="the AccountSid (project id); default: a random one")
    add(
        "--auth-token",
        help=f"API token for Basic auth; default: ${TOKEN_ENV}, else a random one "
        "written to RUN_DIR/api-token (the ready line's token_file)",
    )
    add(
        "--signing-key",
        help=f"sign status callbacks with this key; default: ${SIGNING_KEY_ENV}",
    )


def _add_media_flags(add: Callable[..., object]) -> None:
    """What is in progress, how streams sound and misbehave, and who sends them."""
    add(
        "--conferences",
        type=int,
        default=3,
        help="conferences in progress, 0 for none (default: %(default)s)",
    )
    add(
        "--calls",
        type=int,
        default=3,
        help="calls in progress, for call streams (default: %(default)s)",
    )
    add(
        "--dialect",
        choices=sorted(DIALECTS),
        default="signalwire",
        help="(default: %(default)s)",
    )
    add(
        "--l16-byte-order",
        choices=("big", "little"),
        default="big",
        help="byte order of L16 payloads, undocumented upstream (contract §10); "
        "default: %(default)s (network order, RFC 3551)",
    )
    add(
        "--fault",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="inject an impairment, e.g. delay=5ms, jitter=normal:2ms, loss=0.01, "
        "stall=0.001:200ms, api-error=0.01 (repeatable; see harness/platform/core/faults.py)",
    )
    add(
        "--defect",
        action="append",
        default=[],
        metavar="NAME",
        help="break one contract rule on purpose, e.g. chunk-global, missing-stop "
        "(repeatable; see harness/platform/core/defects.py)",
    )
    add(
        "--workers",
        type=int,
        default=1,
        help="streaming processes: 1 streams in this process; N > 1 starts N workers "
        "behind this one's API, e.g. one per core (default: %(default)s)",
    )
    add(
        "--seed",
        type=int,
        help="seed of every --fault draw (default: random, echoed in the ready line)",
    )


async def _stats(
    supervisor: Supervisor, health: Health, recorder: Recorder, interval_s: float
) -> None:
    while True:
        await asyncio.sleep(interval_s)
        emit(
            STATS,
            streams_active=supervisor.registry.live_count,
            streams_total=supervisor.registry.total_count,
            frames_sent=supervisor.frames_sent,
            cpu_ratio=round(health.cpu_ratio, 3),
            loop_lag_max_ms=round(health.lag_max_ns / 1e6, 3),
            ticker_lag_max_ms=round(supervisor.ticker.take_lag() / 1e6, 3),
            **recorder.loss.stats(),
        )


def _write_token(run_dir: Path, token: Secret) -> Path:
    """Write a generated API token where only its owner can read it."""
    path = (run_dir / "api-token").absolute()  # the ready line's path works anywhere
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(token.reveal() + "\n")
    return path


class _Files(NamedTuple):
    token_file: Path | None
    server_ssl: ssl.SSLContext | None
    client_ssl: ssl.SSLContext
    server_ca: Path | None


def _prepare(options: Options) -> _Files | None:
    """The run directory, the API token file and the TLS contexts.

    ``None`` when one cannot be made (the error is on stderr): exit 2.
    """
    try:
        options.run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        print(
            f"error: --run-dir: cannot create {options.run_dir} ({exc}); pick a writable path",
            file=sys.stderr,
        )
        return None
    token_file: Path | None = None
    try:
        if options.token_generated:
            token_file = _write_token(options.run_dir, options.token)
        cert, key, server_ca = (
            service_files(options.run_dir / "tls", options.cert_file, options.key_file)
            if options.tls
            else (None, None, None)
        )
    except OSError as exc:
        print(
            f"error: --run-dir: cannot write to {options.run_dir} ({exc}); pick a writable path",
            file=sys.stderr,
        )
        return None
    try:
        server_ssl = (
            server_context(cert, key) if cert is not None and key is not None else None
        )
        client_ssl = client_context(
            options.ca_file, verify=options.validate_certificate
        )
    except (OSError, ssl.SSLError) as exc:
        print(
            f"error: --cert-file/--key-file/--ca-file: cannot load ({exc}); check the paths",
            file=sys.stderr,
        )
        return None
    return _Files(token_file, server_ssl, client_ssl, server_ca)


def _registry(options: Options) -> Registry:
    """The conferences and calls in progress from the start, with the dialect's sids."""
    dialect = options.dialect
    now = time.time()
    return Registry(
        (
            Conference(dialect.new_sid("conference"), f"streamload-{i}", now)
            for i in range(1, options.conferences + 1)
        ),
        (
            Call(dialect.new_sid("call"), f"+1555010{i:04d}", "+15550100000", now)
            for i in range(1, options.calls + 1)
        ),
    )


def _callbacks(options: Options, client_ssl: ssl.SSLContext) -> Callbacks:
    """The status-callback sender, signing as the dialect does."""
    return Callbacks(
        account_sid=options.account_sid,
        ssl_context=client_ssl,
        signature_header=options.dialect.signature_header,
        signing_key=options.signing_key,
        defects=options.defects,
    )


def _supervisor(
    options: Options,
    registry: Registry,
    recorder: Recorder,
    callbacks: Callbacks,
    client_ssl: ssl.SSLContext,
) -> Supervisor:
    """The streaming side, as the options configure every stream."""
    settings = StreamerSettings(
        account_sid=options.account_sid,
        ssl=client_ssl,
        dialect=options.dialect,
        l16_byte_order=options.l16_byte_order,
        faults=options.faults,
        defects=options.defects,
    )
    return Supervisor(
        registry, settings, recorder, callbacks=callbacks, seed=options.seed
    )


def _worker_pool(options: Options, supervisor: Supervisor) -> WorkerPool:
    """``--workers`` N > 1: the pool, each worker given this process's settings."""
    return WorkerPool(
        options.workers,
        {
            "account_sid": options.account_sid,
            "dialect": options.dialect.name,
            "l16_byte_order": options.l16_byte_order,
            "ca_file": str(options.ca_file) if options.ca_file else None,
            "validate_certificate": options.validate_certificate,
            "faults": [f"{k}={v}" for k, v in options.faults.describe().items()],
            "defects": sorted(options.defects),
            "seed": options.seed,
            "run_dir": str(options.run_dir),
            "producer": options.producer,
        },
        supervisor.remote_started,
        supervisor.remote_ended,
    )


def _ready(
    options: Options,
    registry: Registry,
    port: int,
    local: str,
    server_ca: Path | None,
    token_file: Path | None,
) -> dict[str, object]:
    """The ready line's fields: where the API listens and what it serves."""
    listen = format_listen(options.host, port)
    return {
        **ready_fields(local, options.public_url, listen, server_ca),
        "account_sid": options.account_sid,
        "conferences": [c.sid for c in registry.conferences],
        "calls": [c.sid for c in registry.calls],
        "dial_ca_file": str(options.ca_file) if options.ca_file else None,
        "token_file": str(token_file) if token_file else None,
        "run_dir": str(options.run_dir),
        "pid": os.getpid(),
        "faults": options.faults.describe(),
        "defects": sorted(options.defects),
        "seed": options.seed,
        "workers": options.workers,
    }


def _log_listening(options: Options, local: str, port: int) -> None:
    """Say where the API listens; warn when it is public or misbehaves on purpose."""
    log.info("listening on %s (%s dialect)", local, options.dialect.name)
    if options.public:
        log.warning(
            "--public: listening on %s, off loopback: any host that reaches it and "
            "holds the API token can start streams; it dials only loopback and %s",
            format_listen(options.host, port),
            ", ".join(sorted(f"{h}:{p or '*'}" for h, p in options.dial.allowed))
            or "nothing else (--allow-dial adds hosts)",
        )
    if options.faults.describe() or options.defects:
        log.warning(
            "misbehaving on purpose: faults %s, defects %s, seed %d",
            options.faults.describe(),
            sorted(options.defects),
            options.seed,
        )


async def serve(options: Options) -> int:
    """Run the platform until a signal or ``max_duration``; return the exit code."""
    files = _prepare(options)
    if files is None:
        return EXIT_USAGE
    token_file, server_ssl, client_ssl, server_ca = files
    dialect = options.dialect
    registry = _registry(options)
    recorder = Recorder(
        RecordSink(options.run_dir, options.producer, "platform"),
        "sent_frames",
        buffer=SendLog,
    )
    callbacks = _callbacks(options, client_ssl)
    supervisor = _supervisor(options, registry, recorder, callbacks, client_ssl)
    if options.workers > 1:
        pool = _worker_pool(options, supervisor)
        try:
            await pool.start()
        except (OSError, RuntimeError, TimeoutError) as exc:
            await pool.shutdown(1.0)
            print(f"error: --workers: could not start ({exc})", file=sys.stderr)
            return EXIT_HARNESS
        supervisor.attach(pool)
    runner = web.AppRunner(
        Api(supervisor, options.token, dial=options.dial).app(),
        access_log=None,
        handle_signals=False,
        shutdown_timeout=2.0,
    )
    await runner.setup()
    site = web.TCPSite(runner, options.host, options.port, ssl_context=server_ssl)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        print(
            f"error: --port: cannot listen on {options.host}:{options.port} ({exc}); use another port or 0",
            file=sys.stderr,
        )
        return EXIT_USAGE
    runtime.settle()  # the collector and the GIL out of the send times
    # before the ready line: a parent may signal as soon as it reads it
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    port = runner.addresses[0][1]
    scheme = "https" if server_ssl is not None else "http"
    local = local_url(scheme, options.host, port, dialect.uri_prefix)
    emit(READY, **_ready(options, registry, port, local, server_ca, token_file))
    _log_listening(options, local, port)
    health = Health(options.producer, recorder)
    background = [
        asyncio.create_task(recorder.run(FLUSH_INTERVAL_S)),
        asyncio.create_task(health.run()),
        asyncio.create_task(
            _stats(supervisor, health, recorder, options.stats_interval_s)
        ),
    ]
    try:
        await asyncio.wait_for(stopping.wait(), timeout=options.max_duration_s)
        log.info("signal received; shutting down")
    except TimeoutError:
        log.info("--max-duration %.0f s reached; shutting down", options.max_duration_s)
    # The shutdown is bounded by its own grace periods; a second SIGTERM (a parent
    # that sends one, then one more to make sure) must not kill the process
    # halfway, after the loop has closed and taken its handlers with it.
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.remove_signal_handler(signum)
        signal.signal(signum, signal.SIG_IGN)
    await _shut_down(runner, supervisor, callbacks, background, recorder)
    log.info(
        "stopped: %d streams served, %d frames sent",
        registry.total_count,
        supervisor.frames_sent,
    )
    return EXIT_PASS


async def _shut_down(
    runner: web.AppRunner,
    supervisor: Supervisor,
    callbacks: Callbacks,
    background: list[asyncio.Task[None]],
    recorder: Recorder,
) -> None:
    """Stop in the order that loses nothing: no new streams, the streams (with
    their stops and callbacks), the background tasks, then the last records."""
    await runner.cleanup()  # no new streams from here on
    await supervisor.shutdown(SHUTDOWN_GRACE_S)
    await callbacks.close(SHUTDOWN_GRACE_S)
    for task in background:
        task.cancel()
    await asyncio.gather(*background, return_exceptions=True)
    await recorder.close()


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and serve; exit 2 for a usage or configuration error."""
    lifeline.arm()  # started by streamload: end with it (its workers watch stdin)
    args = build_parser().parse_args(argv)
    try:
        options = Options.from_args(args, os.environ)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    logging.basicConfig(
        stream=sys.stderr,
        level=args.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    return uvloop.run(serve(options))


if __name__ == "__main__":
    sys.exit(main())
