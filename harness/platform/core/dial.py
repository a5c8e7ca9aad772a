"""Which hosts the reference platform may dial: loopback and an allow-list.

A create request names two addresses the platform then connects to, ``Url``
(the WebSocket it streams to, with the ``AuthorizationBearerToken`` in the
handshake) and ``StatusCallback`` (signed HTTP requests). Anyone holding the
API token could otherwise make the platform connect anywhere its network
reaches, token included. So, by default, it dials only loopback (``localhost``,
127.0.0.0/8, ``::1``) and the hosts given with ``--allow-dial HOST[:PORT]``
(``streamload run`` passes the addresses of its own receivers and callback sink);
anything else is refused with the documented error: 400 and code 31922 for
``Url`` (https://signalwire.com/docs/compatibility-api/rest/error-codes:
"The websocket URL provided for the stream is invalid"), 400 and 21402 for
``StatusCallback`` ("The URL is not valid").

Pure: hosts are compared as written, never resolved, so a name is allowed by
name (give the name the run uses) and an IP literal by its address.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Iterable
from typing import Final
from urllib.parse import urlsplit

from harness.core.api import FieldError
from harness.core.errors import ConfigError
from harness.core.target import is_loopback


__all__ = ["DEFAULT_PORTS", "DialPolicy", "parse_allow"]

DEFAULT_PORTS: Final = {"wss": 443, "ws": 80, "https": 443, "http": 80}
_CODES: Final = {"Url": 31922, "StatusCallback": 21402}
"""The documented code of each refused field (SW-ERR)."""


def _host_key(host: str) -> str:
    """A host as compared: lowercase, IPv6 without brackets and in canonical form."""
    bare = host.strip("[]").lower().rstrip(".")
    try:
        return str(ipaddress.ip_address(bare))
    except ValueError:
        return bare


def parse_allow(text: str) -> tuple[str, int | None]:
    """One ``--allow-dial`` value: ``HOST``, ``HOST:PORT``, ``[V6]`` or ``[V6]:PORT``.

    Raises:
        ConfigError: no host, a bad port, or a bare IPv6 address with a port.
    """
    fix = (
        "give HOST or HOST:PORT, e.g. --allow-dial 10.0.0.5:8443 ([::1]:8443 for IPv6)"
    )
    value = text.strip()
    host, port_text = value, ""
    if value.startswith("["):
        end = value.find("]")
        if end < 0:
            raise ConfigError("--allow-dial", f"{text!r} has no closing ]", fix)
        host, rest = value[1:end], value[end + 1 :]
        if rest:
            if not rest.startswith(":"):
                raise ConfigError("--allow-dial", f"{text!r} is not HOST[:PORT]", fix)
            port_text = rest[1:]
    elif value.count(":") == 1:
        host, port_text = value.split(":")
    elif value.count(":") > 1:  # a bare IPv6 address: no port
        host = value
    if not host:
        raise ConfigError("--allow-dial", f"{text!r} has no host", fix)
    port: int | None = None
    if port_text:
        if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
            raise ConfigError("--allow-dial", f"{text!r} has a bad port", fix)
        port = int(port_text)
    return _host_key(host), port


@dataclasses.dataclass(frozen=True, slots=True)
class DialPolicy:
    """Loopback plus ``allowed`` (host, port or ``None`` for any port)."""

    allowed: frozenset[tuple[str, int | None]] = frozenset()

    @classmethod
    def from_flags(cls, values: Iterable[str]) -> DialPolicy:
        """From the ``--allow-dial`` values (each checked by :func:`parse_allow`)."""
        return cls(frozenset(parse_allow(v) for v in values))

    def permits(self, host: str, port: int) -> bool:
        key = _host_key(host)
        if is_loopback(key):
            return True
        return (key, None) in self.allowed or (key, port) in self.allowed

    def check(self, field: str, url: str | None) -> FieldError | None:
        """``None`` when ``url`` (already validated as a URL) may be dialled.

        The refusal names the field, the address, and the flag that allows it.
        """
        if not url:
            return None
        parts = urlsplit(url)
        host = parts.hostname or ""
        try:
            port = parts.port or DEFAULT_PORTS.get(parts.scheme.lower(), 443)
        except ValueError:
            return None  # a bad port is the URL check's finding
        if self.permits(host, port):
            return None
        shown = f"[{host}]" if ":" in host else host
        return FieldError(
            field,
            f"the reference platform dials only loopback and its --allow-dial "
            f"addresses, and {shown}:{port} is neither; start it with "
            f"--allow-dial {shown}:{port} to allow it",
            400,
            _CODES.get(field),
        )
