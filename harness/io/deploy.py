"""How a service a user deploys listens, and the URL the platform must dial.

``streamload receive``, ``streamload callbacks`` and ``streamload platform``
take the same address flags: ``--listen HOST:PORT``, ``--tls on|off``,
``--behind-proxy``, ``--cert-file/--key-file``, ``--public-url`` and
``--run-dir``. A real platform dials the receivers and the callback sink over
the internet, usually through a TLS terminator (nginx, HAProxy, a cloud load
balancer, a tunnel) that forwards plain WebSocket/HTTP: ``--tls off`` serves
that, and is refused off loopback unless ``--behind-proxy`` says a terminator
is in front, so a token or a stream never crosses a network in clear by
mistake. Everything here is pure (argparse and string checks); the TLS files
are written by :mod:`harness.io.tls`.
"""

from __future__ import annotations

import argparse
import dataclasses
import secrets
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

from harness.core.errors import ConfigError
from harness.core.target import is_loopback


__all__ = [
    "DEFAULT_LISTEN",
    "Address",
    "add_flags",
    "check_plain",
    "check_public_url",
    "default_run_dir",
    "format_listen",
    "forwarded_client",
    "local_url",
    "parse_listen",
    "resolve",
]

DEFAULT_LISTEN: Final = "127.0.0.1:0"


@dataclasses.dataclass(frozen=True, slots=True)
class Address:
    """Where a service listens and what it tells the world, all flags checked."""

    host: str
    port: int
    """0 picks a free port."""
    tls: bool
    behind_proxy: bool
    public_url: str
    """What the platform must dial; ``""`` means the local URL."""
    cert_file: Path | None
    key_file: Path | None
    """Both ``None``: the service makes a throwaway CA and a loopback certificate."""
    run_dir: Path


def parse_listen(flag: str, text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:PORT`` for IPv6) as a host and a port.

    Raises:
        ConfigError: not ``HOST:PORT``, or the port is out of range.
    """
    host, sep, port_text = text.strip().rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if (
        not sep
        or not host
        or not port_text.isascii()
        or not port_text.isdigit()
        or int(port_text) > 65535
        or any(c.isspace() or c in "[]/" for c in host)
    ):
        raise ConfigError(
            flag,
            f"{text!r} is not HOST:PORT",
            "give e.g. 127.0.0.1:0 (0 picks a free port), 0.0.0.0:8443 or [::1]:8443",
        )
    return host, int(port_text)


def format_listen(host: str, port: int) -> str:
    """The ``HOST:PORT`` text of an address (IPv6 in brackets)."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def local_url(scheme: str, host: str, port: int, path: str) -> str:
    """The URL of a listening socket; a wildcard address is reachable on loopback."""
    if host in ("0.0.0.0", ""):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return f"{scheme}://{format_listen(host, port)}{path}"


def check_plain(flag: str, host: str, tls: bool, behind_proxy: bool) -> None:
    """Refuse plain ws/http off loopback unless a TLS terminator is in front.

    Raises:
        ConfigError: ``--tls off`` on a non-loopback address without ``--behind-proxy``.
    """
    if tls or behind_proxy or is_loopback(host):
        return
    raise ConfigError(
        flag,
        f"off on {host} would carry streams, tokens and callbacks in clear "
        "off this machine",
        "put a TLS terminator (nginx, HAProxy, a load balancer, a tunnel) in front "
        "and add --behind-proxy, listen on 127.0.0.1, or use --tls on",
    )


def check_public_url(flag: str, text: str, schemes: tuple[str, ...]) -> str:
    """A public URL with one of ``schemes`` and a host, without credentials.

    ``schemes[0]`` is the TLS one; the others (plain) only name a loopback
    host: a platform elsewhere must be given wss:// or https://.

    Raises:
        ConfigError: naming the flag and the URL form wanted.
    """
    parts = urlsplit(text.strip())
    if (
        parts.scheme not in schemes
        or not parts.hostname
        or text != text.strip()
        or parts.username
        or parts.password
        or parts.fragment
    ):
        raise ConfigError(
            flag,
            f"{text!r} is not a {' or '.join(s + '://' for s in schemes)} URL",
            f"give the URL the platform dials, e.g. {schemes[0]}://rx.example.com/stream",
        )
    if parts.scheme != schemes[0] and not is_loopback(parts.hostname):
        raise ConfigError(
            flag,
            f"{text!r} is plain {parts.scheme}:// to a host off this machine",
            f"give the terminator's {schemes[0]}:// URL",
        )
    try:
        _ = parts.port
    except ValueError:
        raise ConfigError(flag, f"{text!r} has a bad port", "fix the port") from None
    return text


def default_run_dir(service: str, now: float | None = None) -> Path:
    """``runs/<service>-<UTC time>-<6 hex>``: a fresh directory per start."""
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now))
    return Path("runs") / f"{service}-{stamp}-{secrets.token_hex(3)}"


def add_flags(
    parser: argparse.ArgumentParser, *, service: str, public_example: str
) -> None:
    """The address, TLS and run-directory flags every deployable service takes.

    ``--host``/``--port`` stay as aliases of ``--listen`` (``--listen`` wins).
    """
    add = parser.add_argument
    add(
        "--listen",
        default=None,
        metavar="HOST:PORT",
        help=f"address to listen on (default {DEFAULT_LISTEN}: loopback, a free port)",
    )
    add("--host", default="127.0.0.1", help="bind address (alias; prefer --listen)")
    add(
        "--port",
        type=int,
        default=0,
        help="0 picks a free port (alias; prefer --listen)",
    )
    add(
        "--tls",
        choices=("on", "off"),
        default="on",
        help="off: plain ws/http for use behind a TLS terminator (off loopback only "
        "with --behind-proxy)",
    )
    add(
        "--behind-proxy",
        action="store_true",
        help="a TLS terminator forwards to this address: allow --tls off off loopback "
        "and log the client from X-Forwarded-For/Forwarded",
    )
    add(
        "--cert-file",
        type=Path,
        default=None,
        help="your PEM certificate chain (default: a throwaway CA and a loopback "
        "certificate written into the run directory)",
    )
    add("--key-file", type=Path, default=None, help="your PEM private key")
    add(
        "--public-url",
        default=None,
        metavar="URL",
        help=f"what the platform must dial, e.g. {public_example} (default: the "
        "local URL); printed in the ready line as url",
    )
    add(
        "--run-dir",
        type=Path,
        default=None,
        help=f"records go to RUN_DIR/records (default: runs/{service}-<time>-<id>)",
    )


def resolve(
    a: argparse.Namespace,
    *,
    service: str,
    public_schemes: tuple[str, ...],
    check_files: bool = True,
) -> Address:
    """Check the flags :func:`add_flags` added; sets ``a.host``/``a.port`` too.

    ``check_files=False`` leaves a missing certificate to the loader's own error.

    Raises:
        ConfigError: a bad address, a lone certificate or key, plain off
            loopback without a terminator, or a bad public URL.
    """
    if a.listen is not None:
        a.host, a.port = parse_listen("--listen", a.listen)
    if not 0 <= a.port <= 65535:
        raise ConfigError(
            "--port", f"{a.port} is out of range", "use 0..65535 (0 picks one)"
        )
    tls = a.tls == "on"
    check_plain("--tls", a.host, tls, a.behind_proxy)
    if (a.cert_file is None) != (a.key_file is None):
        raise ConfigError(
            "--cert-file/--key-file",
            "only one is given",
            "give both, or neither for a throwaway CA",
        )
    for flag, path in (("--cert-file", a.cert_file), ("--key-file", a.key_file)):
        if check_files and path is not None and not path.is_file():
            raise ConfigError(
                flag, f"{str(path)!r} is not a file", "give a PEM file's path"
            )
    if not tls and a.cert_file is not None:
        raise ConfigError(
            "--cert-file/--key-file",
            "are given with --tls off",
            "drop them (the terminator holds the certificate), or use --tls on",
        )
    public = (
        check_public_url("--public-url", a.public_url, public_schemes)
        if a.public_url
        else ""
    )
    run_dir = a.run_dir if a.run_dir is not None else default_run_dir(service)
    if run_dir.exists() and not run_dir.is_dir():
        raise ConfigError(
            "--run-dir", f"{str(run_dir)!r} is not a directory", "give a dir"
        )
    a.run_dir = run_dir
    return Address(
        host=a.host,
        port=a.port,
        tls=tls,
        behind_proxy=a.behind_proxy,
        public_url=public,
        cert_file=a.cert_file,
        key_file=a.key_file,
        run_dir=run_dir,
    )


def forwarded_client(headers: Mapping[str, str]) -> str | None:
    """The original client a proxy names (``Forwarded: for=``, else ``X-Forwarded-For``).

    For logs only: a header anyone can send never decides a check.
    """
    forwarded = headers.get("Forwarded")
    if forwarded:
        for part in forwarded.split(",")[0].split(";"):
            key, _, value = part.strip().partition("=")
            if key.lower() == "for" and value:
                return value.strip('"')
    xff = headers.get("X-Forwarded-For")
    if xff:
        first = xff.split(",")[0].strip()
        return first or None
    return None
