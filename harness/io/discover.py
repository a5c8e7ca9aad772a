"""Find the in-progress conferences of a target through its API, once.

An I/O edge (stdlib ``http.client`` and ``ssl`` only), used by the runner
before the load starts and by ``python -m harness.conform`` without
``--conference``: the same ``GET .../Conferences.json`` the load's users send
(scenarios), read by the same :func:`harness.core.api.in_progress_conferences`, so
the negative suite streams from a conference the load could use too.
"""

from __future__ import annotations

import base64
import http.client
import json
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

from harness.core.api import in_progress_conferences
from harness.core.secret import Secret
from harness.io.tls import client_context


__all__ = ["NO_CONFERENCE", "DiscoveryError", "discover_conferences"]

NO_CONFERENCE: Final = (
    "no in-progress conference on the target",
    "start one (a call into a conference) or give --conference-sids",
)
"""(problem, fix) when the target answered with no conference in progress."""


class DiscoveryError(Exception):
    """The target gave no usable list of conferences."""

    def __init__(self, problem: str, status: int = 0) -> None:
        super().__init__(problem)
        self.problem = problem
        self.status = status
        """The HTTP status, 0 when no answer came."""


def discover_conferences(
    api_base: str,
    account_sid: str,
    token: Secret,
    *,
    ca_file: Path | None = None,
    timeout_s: float = 10.0,
) -> list[str]:
    """The sids of the conferences in progress on the target (first page).

    Raises:
        DiscoveryError: no answer, an HTTP status other than 200, or not JSON.
    """
    base = urlsplit(api_base)
    host, secure = base.hostname or "", base.scheme == "https"
    conn: http.client.HTTPConnection = (
        http.client.HTTPSConnection(
            host, base.port or 443, timeout=timeout_s, context=client_context(ca_file)
        )
        if secure
        else http.client.HTTPConnection(host, base.port or 80, timeout=timeout_s)
    )
    user_pass = f"{account_sid}:{token.reveal()}"
    headers = {
        "Authorization": "Basic " + base64.b64encode(user_pass.encode()).decode(),
        "Accept": "application/json",
    }
    path = f"{base.path.rstrip('/')}/Accounts/{account_sid}/Conferences.json"
    try:
        conn.request("GET", path, headers=headers)
        answer = conn.getresponse()
        status, body = answer.status, answer.read()
    except (OSError, http.client.HTTPException) as exc:
        raise DiscoveryError(f"no answer ({type(exc).__name__})") from None
    finally:
        conn.close()
    if status != 200:
        raise DiscoveryError(f"HTTP {status} listing conferences", status)
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError):  # deep JSON too
        raise DiscoveryError("the conference list is not JSON", status) from None
    return in_progress_conferences(doc)
