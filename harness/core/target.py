"""Where a run sends its requests: the embedded reference platform or a real one.

A real target is an HTTPS base URL, ``https://SPACE.signalwire.com`` (the API
prefix ``/api/laml/2010-04-01`` is added when the URL has no path), with the
credentials in ``SIGNALWIRE_PROJECT_ID`` and ``SIGNALWIRE_API_TOKEN``: they
never travel on a command line, so they never reach a process list, a log or a
record. Plain ``http://`` is refused except on loopback, where a test platform
may run without TLS.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Mapping
from typing import Final
from urllib.parse import urlsplit, urlunsplit

from harness.core.errors import ConfigError
from harness.core.secret import Secret


__all__ = [
    "API_PREFIX",
    "PROJECT_ENV",
    "TOKEN_ENV",
    "Target",
    "is_loopback",
    "parse_target",
    "parse_wss_url",
]

API_PREFIX: Final = "/api/laml/2010-04-01"
PROJECT_ENV: Final = "SIGNALWIRE_PROJECT_ID"
TOKEN_ENV: Final = "SIGNALWIRE_API_TOKEN"


@dataclasses.dataclass(frozen=True, slots=True)
class Target:
    url: str
    """Base URL the API paths hang off, e.g. ``https://x.signalwire.com/api/laml/2010-04-01``."""
    project_id: str
    token: Secret

    @property
    def loopback(self) -> bool:
        return is_loopback(urlsplit(self.url).hostname or "")


def is_loopback(host: str) -> bool:
    """``localhost`` or a loopback address (127.0.0.0/8, ::1)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def parse_target(text: str, environ: Mapping[str, str]) -> Target:
    """Check ``--target`` and read the credentials from the environment.

    Raises:
        ConfigError: a bad URL, plain http off loopback, or a missing credential.
    """
    parts = urlsplit(text.strip())
    host = parts.hostname or ""
    if parts.scheme not in ("https", "http") or not host:
        raise ConfigError(
            "--target",
            f"{text!r} is not an https:// URL",
            "give the space's base URL, e.g. https://example.signalwire.com",
        )
    if parts.username or parts.password:
        raise ConfigError(
            "--target",
            "carries credentials in the URL",
            f"drop them from the URL and export {PROJECT_ENV} and {TOKEN_ENV}",
        )
    if parts.scheme == "http" and not is_loopback(host):
        raise ConfigError(
            "--target",
            f"plain http to {host} would send the API token in clear",
            "use https://, or http:// only on loopback (127.0.0.1, localhost)",
        )
    if parts.query or parts.fragment:
        raise ConfigError(
            "--target", "has a query or fragment", "give the base URL only"
        )
    try:
        _ = parts.port
    except ValueError:
        raise ConfigError(
            "--target", f"{text!r} has a bad port", "fix the port"
        ) from None
    path = parts.path.rstrip("/") or API_PREFIX
    project = environ.get(PROJECT_ENV, "").strip()
    token = environ.get(TOKEN_ENV, "")
    for name, value in ((PROJECT_ENV, project), (TOKEN_ENV, token)):
        if not value:
            raise ConfigError(
                name,
                "is not set",
                f"export {PROJECT_ENV} (the AccountSid) and {TOKEN_ENV} for --target",
            )
    url = urlunsplit((parts.scheme, parts.netloc, path, "", ""))
    return Target(url=url, project_id=project, token=Secret(token))


def parse_wss_url(flag: str, text: str) -> str:
    """A receivers' public URL: ``wss://`` only (contract §1.1: ws is refused)."""
    parts = urlsplit(text.strip())
    if parts.scheme != "wss" or not parts.hostname or text != text.strip():
        raise ConfigError(
            flag,
            f"{text!r} is not a wss:// URL",
            "give the public wss:// URL that reaches the receivers, e.g. wss://rx.example.com/stream",
        )
    return text
