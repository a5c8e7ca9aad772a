"""``python -m tests.independent``: serve the second platform on loopback.

Prints one JSON line on stdout when ready (``url``, ``api_base``,
``account_sid``, ``conferences``), serves until SIGTERM or ``--max-duration``,
stops every stream with its ``stop`` message, exits 0. The API token comes from
``SIGNALWIRE_API_TOKEN`` (or ``--api-token``), the callback signing key from
``SIGNALWIRE_SIGNING_KEY``; neither is ever printed.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import os
import ssl
import sys
import uuid
from pathlib import Path

from tests.independent import contract as c
from tests.independent.platform import Platform, serve


def _options(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tests.independent",
        description="An independent implementation of the conference media-stream "
        "API, for checking streamload's checker (SignalWire dialect).",
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="loopback address to listen on"
    )
    parser.add_argument("--port", type=int, default=0, help="0: any free port")
    parser.add_argument(
        "--account-sid",
        default=os.environ.get("SIGNALWIRE_PROJECT_ID") or str(uuid.uuid4()),
        help="the AccountSid (= Project ID, the Basic-auth user); default "
        "SIGNALWIRE_PROJECT_ID, else a fresh UUID",
    )
    parser.add_argument(
        "--api-token",
        default=None,
        help="the API token (Basic-auth password); better SIGNALWIRE_API_TOKEN, "
        "which no process list shows",
    )
    parser.add_argument(
        "--ca-file", help="CA bundle to trust for wss:// streams and https:// callbacks"
    )
    parser.add_argument(
        "--cert-file", help="serve the API over https with this certificate chain"
    )
    parser.add_argument("--key-file", help="the --cert-file's private key")
    parser.add_argument(
        "--conferences", type=int, default=3, help="in-progress conferences"
    )
    parser.add_argument(
        "--defect",
        action="append",
        default=[],
        choices=sorted(c.DEFECTS),
        metavar="NAME",
        help="break one point of the contract (repeatable): "
        + ", ".join(sorted(c.DEFECTS)),
    )
    parser.add_argument(
        "--spread",
        action="store_true",
        help="with several --defect: each new stream shows one, the eligible one "
        "given to the fewest streams so far (others stay clean); see --assignments",
    )
    parser.add_argument(
        "--assignments",
        type=Path,
        help="append one JSON line per stream: sid, conference, defects, last parameter",
    )
    parser.add_argument(
        "--max-duration", type=float, default=300.0, help="seconds, then stop"
    )
    parser.add_argument(
        "--max-stream-duration",
        type=float,
        default=120.0,
        help="seconds a stream may last",
    )
    ns = parser.parse_args(argv)
    try:
        loopback = ns.host == "localhost" or ipaddress.ip_address(ns.host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        parser.error(f"--host {ns.host!r}: loopback only (127.0.0.1, ::1, localhost)")
    ns.api_token = ns.api_token or os.environ.get("SIGNALWIRE_API_TOKEN", "")
    if not ns.api_token:
        parser.error("no API token: export SIGNALWIRE_API_TOKEN (or give --api-token)")
    if bool(ns.cert_file) != bool(ns.key_file):
        parser.error("--cert-file and --key-file go together")
    if not 1 <= ns.conferences <= 100:
        parser.error("--conferences: give 1 to 100")
    return ns


def main(argv: list[str] | None = None) -> int:
    ns = _options(argv)
    context = ssl.create_default_context(cafile=ns.ca_file)
    platform = Platform(
        account_sid=ns.account_sid,
        api_token=ns.api_token,
        conferences=ns.conferences,
        defects=frozenset(ns.defect),
        ssl_context=context,
        signing_key=os.environ.get("SIGNALWIRE_SIGNING_KEY", ""),
        max_stream_s=ns.max_stream_duration,
        spread=ns.spread,
        assignments=ns.assignments,
    )
    server_ssl = None
    if ns.cert_file:
        server_ssl = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        server_ssl.load_cert_chain(ns.cert_file, ns.key_file)
    asyncio.run(serve(platform, ns.host, ns.port, ns.max_duration, server_ssl))
    return 0


if __name__ == "__main__":
    sys.exit(main())
