"""The receiver's command line, once: each flag, its parsed form and the way back.

``python -m receivers`` parses its flags into :class:`Options`; with
``--processes N`` the supervisor (:mod:`receivers.workers`) starts N workers
with a command line made from those same options by :func:`argv`, which walks
the same parser: a new flag needs one line in :func:`flag_values`, and the
round-trip test fails until it has it.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Final

from harness.core.errors import ConfigError
from harness.core.secret import Secret
from harness.io.deploy import format_listen
from receivers import service
from receivers.server import DEFAULT_TRANSPORT, TRANSPORTS, ServerConfig


__all__ = [
    "PROG",
    "TOKEN_ENV",
    "TRANSPORT_ENV",
    "Options",
    "argv",
    "flag_values",
    "parse_args",
    "parser",
]

TOKEN_ENV: Final = "STREAMLOAD_BEARER_TOKEN"
TRANSPORT_ENV: Final = "STREAMLOAD_RECEIVER_TRANSPORT"
"""The ``--transport`` default when the flag is not given, so a whole
``streamload run`` (which starts the receivers) can pick the library."""
PROG: Final = "streamload receive"
_ALIASES: Final = frozenset({"help", "host", "port"})
"""Parser destinations :func:`flag_values` leaves out: ``--help``, and
``--host``/``--port``, which ``--listen`` says better."""


@dataclasses.dataclass(frozen=True, slots=True)
class Options:
    """The parsed command line plus the token from the environment."""

    server: ServerConfig
    cert_file: Path | None
    """``None`` with ``key_file``: plain ws (``--tls off``), or a throwaway pair
    still to make (``tls``)."""
    key_file: Path | None
    run_dir: Path
    producer: str
    max_duration: float
    stats_interval: float
    flush_interval: float = 1.0
    processes: int = 1
    """Receiver processes sharing the port; 1 serves in this process."""
    tls: bool = True
    """``--tls``: off serves plain ws, for use behind a TLS terminator."""
    behind_proxy: bool = False
    public_url: str = ""
    """What the platform dials (the ready line's ``url``); ``""``: the local URL."""
    ca_file: Path | None = None
    """The throwaway CA that signed ``cert_file``, once made."""


def parser() -> argparse.ArgumentParser:
    """Every flag of ``python -m receivers`` (the common ones from :mod:`receivers.service`)."""
    p = service.parser(
        PROG,
        "Serve wss media streams; record every frame.",
        path="/stream",
        path_help="the only path accepted",
        producer="receiver-0",
        service="receiver",
    )
    p.add_argument(
        "--max-size", type=int, default=1_048_576, help="largest message, bytes"
    )
    p.add_argument(
        "--idle-timeout", type=float, default=30.0, help="seconds of silence"
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
    p.add_argument(
        "--transport",
        choices=TRANSPORTS,
        default=None,
        help=f"WebSocket library: {TRANSPORTS[0]} (about 1.6x less CPU per message, docs/performance.md) or "
        f"{TRANSPORTS[1]} (default {DEFAULT_TRANSPORT}, or ${TRANSPORT_ENV})",
    )
    # a --processes worker is told the supervisor's throwaway CA, to echo it
    p.add_argument("--ca-file", type=Path, default=None, help=argparse.SUPPRESS)
    return p


def parse_args(
    argv: list[str] | None, environ: Mapping[str, str] | None = None
) -> Options:
    """Parse and check the flags; exits 2 on syntax errors.

    Raises:
        ConfigError: a value is out of range or a file is missing.
    """
    p = parser()
    a = p.parse_args(argv)
    env = os.environ if environ is None else environ
    address = service.check_flags(a, p, seconds=("--idle-timeout",))
    if a.max_size < 1024:
        raise ConfigError(
            "--max-size", f"{a.max_size} is too small", "use at least 1024"
        )
    if not 1 <= a.processes <= 256:
        raise ConfigError(
            "--processes", f"{a.processes} is out of range", "use 1..256 (one per core)"
        )
    token = env.get(TOKEN_ENV, "")
    transport = a.transport or env.get(TRANSPORT_ENV) or DEFAULT_TRANSPORT
    if transport not in TRANSPORTS:
        raise ConfigError(
            TRANSPORT_ENV,
            f"{transport!r} is not a transport",
            f"use one of {', '.join(TRANSPORTS)}",
        )
    config = ServerConfig(
        host=a.host,
        port=a.port,
        path=a.path,
        max_size=a.max_size,
        idle_timeout=a.idle_timeout,
        token=Secret(token) if token else None,
        reuse_port=a.reuse_port,
        behind_proxy=address.behind_proxy,
        transport=transport,
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
        tls=address.tls,
        behind_proxy=address.behind_proxy,
        public_url=address.public_url,
        ca_file=a.ca_file,
    )


def flag_values(options: Options) -> dict[str, object]:
    """The value of each flag (by its parser ``dest``) that parses back to ``options``.

    The inverse of :func:`parse_args`, but for the token (it travels in the
    environment, never on a command line) and what no flag sets.
    """
    server = options.server
    return {
        "listen": format_listen(server.host, server.port),
        "tls": "on" if options.tls else "off",
        "behind_proxy": options.behind_proxy,
        "cert_file": options.cert_file,
        "key_file": options.key_file,
        "public_url": options.public_url or None,
        "run_dir": options.run_dir,
        "producer": options.producer,
        "path": server.path,
        "max_duration": options.max_duration,
        "stats_interval": options.stats_interval,
        "max_size": server.max_size,
        "idle_timeout": server.idle_timeout,
        "reuse_port": server.reuse_port,
        "transport": server.transport,
        "processes": options.processes,
        "ca_file": options.ca_file,
    }


def argv(options: Options) -> list[str]:
    """The flags that give ``options`` back, spelt as the parser spells them.

    Raises:
        ValueError: :func:`flag_values` and the parser disagree (a flag added
            to one and not the other): a bug, caught by the tests.
    """
    values = flag_values(options)
    out: list[str] = []
    seen: set[str] = set()
    for action in parser()._actions:
        if action.dest in _ALIASES or not action.option_strings:
            continue
        if action.dest not in values:
            raise ValueError(f"flag_values() does not give {action.dest}")
        seen.add(action.dest)
        value = values[action.dest]
        flag = action.option_strings[0]
        if action.nargs == 0:  # store_true
            if value:
                out.append(flag)
        elif value is not None:  # --flag=VALUE: a value may start with "-"
            text = repr(value) if isinstance(value, float) else str(value)
            out.append(f"{flag}={text}")
    if extra := set(values) - seen:
        raise ValueError(f"flag_values() gives {sorted(extra)}: no such flag")
    return out
