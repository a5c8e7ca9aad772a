"""``python -m harness.conform``: send the negative suite once and check every answer.

An I/O edge like :mod:`harness.run.processes` (stdlib ``http.client`` and ``ssl``
only). Without load it checks the REST contract quickly:

1. three valid creates, checked by :func:`harness.core.api.check_stream_response`:
   an *anchor* (named) that dials a loopback port that never answers, so it
   stays live for the duplicate-Name and bad-Status cases whatever a receiver
   does; a named stream with 98 custom parameters and ``both_tracks`` and an
   unnamed one, which stream to ``--stream-url`` (a receiver, if one listens)
   and report to ``--status-callback`` (a callback sink, if one listens);
2. each invalid request of :data:`harness.core.negative.CASES`, judged by
   :func:`harness.core.negative.judge`; a create the platform wrongly accepts is
   stopped at once, so the suite leaves nothing running;
3. after ``--hold`` seconds, stop the named streams by name and the other by
   sid.

Against a remote platform the loopback port is out of its reach: give
``--stream-url`` (a public receiver), which the anchor then dials too.
Without ``--conference`` the suite streams from the first in-progress
conference the API lists (:mod:`harness.io.discover`, as the load finds them);
a target with none is a usage error (exit 2) naming the fix.

Rows go to ``RUN_DIR/records`` (source ``negative``) when ``--run-dir`` is
given; one line per rule goes to stdout. Exit codes: 0 every rule passed (a
``warning`` rule may have failed: it is shown as WARN), 1 a rule failed,
2 usage or configuration error. The API token comes from
``SIGNALWIRE_API_TOKEN`` and the optional bearer token for the streams from
``STREAMLOAD_BEARER_TOKEN``; neither is ever printed or recorded.
"""

from __future__ import annotations

import argparse
import base64
import dataclasses
import http.client
import json
import os
import socket
import ssl
import sys
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Final, NoReturn
from urllib.parse import quote, urlencode, urlsplit

from harness.core.api import StartStreamRequest, check_stream_response
from harness.core.callbacks import METHOD_PARAM
from harness.core.checks_io import checker_rows
from harness.core.correlation import PARAM_NAME, Expectation, digest, fingerprint
from harness.core.errors import ConfigError
from harness.core.exits import EXIT_FAIL, EXIT_PASS, EXIT_USAGE
from harness.core.negative import CASES, Case, build, judge
from harness.core.records import RowSink
from harness.core.rules import RULES, Checker
from harness.core.secret import Secret, redact
from harness.core.target import is_loopback
from harness.io import lifeline
from harness.io.discover import NO_CONFERENCE, DiscoveryError, discover_conferences
from harness.io.tls import client_context


__all__ = [
    "BEARER_ENV",
    "SOURCE",
    "TOKEN_ENV",
    "Options",
    "Outcome",
    "main",
    "parse_args",
    "run_suite",
    "summary_lines",
]

TOKEN_ENV: Final = "SIGNALWIRE_API_TOKEN"
BEARER_ENV: Final = "STREAMLOAD_BEARER_TOKEN"
SOURCE: Final = "negative"
"""``rule_checks.source`` of every row this suite writes."""


@dataclasses.dataclass(frozen=True, slots=True)
class Options:
    """The parsed command line plus the secrets from the environment."""

    api_base: str
    """e.g. ``https://127.0.0.1:8443/api/laml/2010-04-01`` (the platform's ready URL)."""
    account_sid: str
    conference_sid: str
    token: Secret
    ca_file: Path | None = None
    run_dir: Path | None = None
    stream_url: str | None = None
    """wss URL the media streams dial; ``None``: a loopback tarpit (see :class:`_Tarpit`)."""
    status_callback: str | None = None
    bearer: Secret | None = None
    hold_s: float = 1.0
    timeout_s: float = 10.0
    run_id: str = "conform"


@dataclasses.dataclass(slots=True)
class Outcome:
    """Every checker the suite filled, in sending order."""

    checkers: list[Checker] = dataclasses.field(default_factory=list)
    cleaned: list[str] = dataclasses.field(default_factory=list)
    """Sids of streams an invalid request created, stopped by the suite."""
    requests: list[tuple[object, ...]] = dataclasses.field(default_factory=list)
    """``requests`` rows of the valid creates that dial ``--stream-url`` (a
    receiver): the report joins their streams by sid (harness.core.join)."""

    @property
    def failed(self) -> bool:
        """An ``error`` rule failed (``warning`` ones are reported, never fatal)."""
        return any(
            n.failures and _severity(rule) == "error"
            for c in self.checkers
            for rule, n in c.counts.items()
        )


def _severity(rule: str) -> str:
    known = RULES.get(rule)
    return known.severity if known else "error"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: {message}; see {self.prog} --help\n")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="python -m harness.conform",
        description="Send each invalid request once; check the answers rule by rule.",
    )
    add = p.add_argument
    add("--url", required=True, help="API base, e.g. https://HOST/api/laml/2010-04-01")
    add("--account-sid", required=True, help="the AccountSid (project id)")
    add(
        "--conference",
        default="",
        help="a conference sid in progress (default: the first one the API lists "
        "in progress, as the load finds them)",
    )
    add("--ca-file", type=Path, help="CA to trust (default: the system store)")
    add("--run-dir", type=Path, help="write rule_checks/violations under RUN_DIR")
    add(
        "--stream-url",
        help="wss URL the valid streams dial (default: a loopback port that never "
        "answers, which keeps them live; give a receiver's URL for a remote platform)",
    )
    add("--status-callback", help="StatusCallback URL for the valid streams")
    add("--hold", type=float, default=1.0, help="seconds the valid streams stream")
    add("--timeout", type=float, default=10.0, help="seconds per request")
    add("--run-id", default="conform", help="run id carried in the streams")
    return p


def parse_args(
    argv: Sequence[str] | None, environ: Mapping[str, str] | None = None
) -> Options:
    """Parse and check the flags; argparse exits 2 on syntax errors.

    Raises:
        ConfigError: a value is missing or wrong.
    """
    a = _parser().parse_args(argv)
    env = os.environ if environ is None else environ
    token = env.get(TOKEN_ENV, "")
    if not token:
        raise ConfigError(TOKEN_ENV, "is not set", "export the API token in it")
    base = urlsplit(a.url)
    plain_ok = base.scheme == "http" and is_loopback(base.hostname or "")
    if (
        (base.scheme != "https" and not plain_ok)
        or not base.hostname
        or base.query
        or base.fragment
    ):
        raise ConfigError(
            "--url",
            f"{a.url!r} is not an https base URL (http only on loopback)",
            "give e.g. https://HOST/api/laml/2010-04-01",
        )
    try:
        _ = base.port
    except ValueError:
        raise ConfigError(
            "--url", f"{a.url!r} has a bad port", "fix the port"
        ) from None
    if a.stream_url is not None and urlsplit(a.stream_url).scheme != "wss":
        raise ConfigError(
            "--stream-url", f"{a.stream_url!r} is not wss://", "give a wss:// URL"
        )
    if a.status_callback and urlsplit(a.status_callback).scheme not in (
        "http",
        "https",
    ):
        raise ConfigError(
            "--status-callback",
            f"{a.status_callback!r} is not http(s)",
            "give an https:// URL",
        )
    if a.ca_file is not None and not a.ca_file.is_file():
        raise ConfigError(
            "--ca-file", f"{str(a.ca_file)!r} is not a file", "give a PEM file"
        )
    for flag, value in (("--hold", a.hold), ("--timeout", a.timeout)):
        if not value >= 0 or (flag == "--timeout" and not value > 0):
            raise ConfigError(flag, f"{value} is out of range", "give seconds > 0")
    for flag, value in (
        ("--account-sid", a.account_sid),
        ("--conference", a.conference or "discover"),
    ):
        if not value or "/" in value:
            raise ConfigError(flag, f"{value!r} is not a sid", "give the sid")
    bearer = env.get(BEARER_ENV, "")
    return Options(
        api_base=a.url.rstrip("/"),
        account_sid=a.account_sid,
        conference_sid=a.conference,
        token=Secret(token),
        ca_file=a.ca_file,
        run_dir=a.run_dir,
        stream_url=a.stream_url,
        status_callback=a.status_callback,
        bearer=Secret(bearer) if bearer else None,
        hold_s=a.hold,
        timeout_s=a.timeout,
        run_id=a.run_id,
    )


class _Client:
    """One HTTPS request at a time to the API base, with Basic auth."""

    def __init__(self, options: Options) -> None:
        self._options = options
        base = urlsplit(options.api_base)
        self._host = base.hostname or ""
        self._secure = base.scheme == "https"
        self._port = base.port or (443 if self._secure else 80)
        self._prefix = base.path.rstrip("/")
        self._ssl: ssl.SSLContext = client_context(options.ca_file)
        self.bad_token = Secret(uuid.uuid4().hex)
        """The wrong password of the bad-credentials case (never shown either)."""
        self.content_type = ""
        """The last answer's Content-Type (REST-CREATE-008)."""

    def post(
        self, path: str, form: Sequence[tuple[str, str]], *, good: bool = True
    ) -> tuple[int, bytes, int]:
        """POST a form; return (status, body, done_ns); status 0 when no answer came."""
        token = self._options.token if good else self.bad_token
        user_pass = f"{self._options.account_sid}:{token.reveal()}"
        headers = {
            "Authorization": "Basic " + base64.b64encode(user_pass.encode()).decode(),
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
        }
        conn = (
            http.client.HTTPSConnection(
                self._host,
                self._port,
                timeout=self._options.timeout_s,
                context=self._ssl,
            )
            if self._secure
            else http.client.HTTPConnection(
                self._host, self._port, timeout=self._options.timeout_s
            )
        )
        try:
            conn.request("POST", self._prefix + path, urlencode(form), headers)
            answer = conn.getresponse()
            self.content_type = answer.getheader("Content-Type", "")
            return answer.status, answer.read(), time.monotonic_ns()
        except (OSError, http.client.HTTPException) as exc:
            return 0, f"no answer: {type(exc).__name__}".encode(), time.monotonic_ns()
        finally:
            conn.close()


class _Tarpit:
    """A loopback port that takes TCP connections and never answers them.

    The valid streams must stay live while the duplicate-Name and bad-Status
    cases run; a URL that refuses would end them at once. The kernel completes
    the TCP handshake from the backlog, the TLS handshake then waits, and the
    platform's dial stays pending until the suite stops the stream.
    """

    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self.url = f"wss://127.0.0.1:{self._sock.getsockname()[1]}/streamload-conform"

    def close(self) -> None:
        self._sock.close()


def _valid_request(
    options: Options,
    stream_url: str,
    *,
    request_id: str,
    name: str | None,
    codec: str,
    track: str,
    n_params: int,
    method: str | None,
) -> StartStreamRequest:
    params = [(f"p{i}", f"v{i}") for i in range(1, n_params + 1)]
    exp = Expectation(
        options.run_id, request_id, codec, track, n_params, digest(params)
    )
    callback = None
    if options.status_callback and method is not None:
        sep = "&" if "?" in options.status_callback else "?"
        callback = f"{options.status_callback}{sep}{METHOD_PARAM}={method}"
    return StartStreamRequest(
        url=stream_url,
        name=name,
        track=track,
        codec=codec,
        status_callback=callback,
        status_callback_method=method if callback else None,
        parameters=(*params, (PARAM_NAME, exp.encode())),
        bearer_token=options.bearer,
    )


def run_suite(
    options: Options,
    sink: RowSink | None = None,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> Outcome:
    """Send the suite once; put every checker's rows in ``sink`` (if any)."""
    loopback = urlsplit(options.api_base).hostname in ("127.0.0.1", "::1", "localhost")
    tarpit = _Tarpit() if loopback or options.stream_url is None else None
    try:
        media_url = options.stream_url or (tarpit.url if tarpit else "")
        # The anchor must stay live through the duplicate-Name and bad-Status
        # cases whatever the receiver does (a refused handshake ends a stream).
        anchor_url = tarpit.url if tarpit else media_url
        return _run(options, sink, sleep, anchor_url, media_url)
    finally:
        if tarpit is not None:
            tarpit.close()


@dataclasses.dataclass(slots=True)
class _Streams:
    """The Streams resource of the suite's conference: create and stop, each checked.

    Every request gets its own checker in ``outcome`` (its subject names the case).
    """

    options: Options
    client: _Client
    outcome: Outcome

    @property
    def path(self) -> str:
        o = self.options
        return f"/Accounts/{o.account_sid}/Conferences/{o.conference_sid}/Streams"

    def create(self, subject: str, request: StartStreamRequest) -> str | None:
        """Start a stream; its sid if the answer gave a usable one."""
        options, client, outcome = self.options, self.client, self.outcome
        checker = Checker(subject)
        outcome.checkers.append(checker)
        sent = time.monotonic_ns()
        status, body, done = client.post(self.path, request.form())
        _record(options, request, sent, status, body, done, outcome)
        if not status:
            checker.check(
                "REST-CREATE-001", False, expected=200, actual=body.decode(), at_ns=done
            )
            return None
        doc = check_stream_response(
            checker,
            status,
            body,
            kind="create",
            account_sid=options.account_sid,
            conference_sid=options.conference_sid,
            name=request.name,
            at_ns=done,
            content_type=client.content_type,
        )
        sid = doc.get("sid") if doc else None
        return sid if isinstance(sid, str) and sid else None

    def stop(self, subject: str, target: str, sid: str, name: str | None) -> None:
        """Stop stream ``sid`` addressed as ``target`` (its sid or its Name)."""
        options, client = self.options, self.client
        checker = Checker(subject)
        self.outcome.checkers.append(checker)
        status, body, done = client.post(
            f"{self.path}/{quote(target, safe='')}", [("Status", "stopped")]
        )
        if not status:
            checker.check(
                "REST-STOP-001", False, expected=200, actual=body.decode(), at_ns=done
            )
            return
        check_stream_response(
            checker,
            status,
            body,
            kind="stop",
            account_sid=options.account_sid,
            conference_sid=options.conference_sid,
            name=name,
            stream_sid=sid,
            at_ns=done,
            content_type=client.content_type,
        )


def _run(
    options: Options,
    sink: RowSink | None,
    sleep: Callable[[float], None],
    anchor_url: str,
    media_url: str,
) -> Outcome:
    client = _Client(options)
    outcome = Outcome()
    api = _Streams(options, client, outcome)
    create, stop = api.create, api.stop
    tag = uuid.uuid4().hex[:8]
    live_name = f"streamload-conform-{tag}"

    started = time.monotonic()
    anchor = create(
        "conform:create-anchor",
        _valid_request(
            options,
            anchor_url,
            request_id=f"conform-{tag}-0",
            name=live_name,
            codec="PCMU",
            track="inbound_track",
            n_params=1,
            method=None,
        ),
    )
    media_name = f"{live_name}-media"
    named = create(
        "conform:create-named",
        _valid_request(
            options,
            media_url,
            request_id=f"conform-{tag}-1",
            name=media_name,
            codec="PCMU",
            track="both_tracks",
            n_params=98,  # with streamload's own: all 99 slots (contract §1.1)
            method="POST",
        ),
    )
    unnamed = create(
        "conform:create-unnamed",
        _valid_request(
            options,
            media_url,
            request_id=f"conform-{tag}-2",
            name=None,
            codec="L16@16000h",
            track="inbound_track",
            n_params=0,
            method="GET",
        ),
    )
    for case in CASES:
        if case.rule in ("REST-REJECT-009", "REST-REJECT-011") and anchor is None:
            continue  # needs the live anchor; its create already failed a rule
        _negative(client, options, media_url, case, live_name, anchor or "", outcome)
    sleep(max(0.0, options.hold_s - (time.monotonic() - started)))
    if anchor is not None:
        stop("conform:stop-anchor-by-name", live_name, anchor, live_name)
    if named is not None:
        stop("conform:stop-by-name", media_name, named, media_name)
    if unnamed is not None:
        stop("conform:stop-by-sid", unnamed, unnamed, None)
    _redact(outcome, (options.token, options.bearer, client.bad_token))
    if sink is not None:
        for checker in outcome.checkers:
            for table, row in checker_rows(SOURCE, checker):
                sink.add(table, row)
        for row in outcome.requests:
            sink.add("requests", row)
    return outcome


def _redact(outcome: Outcome, secrets: tuple[Secret | str | None, ...]) -> None:
    """Take every secret out of the evidence before anything is written."""
    for checker in outcome.checkers:
        checker.violations[:] = [
            dataclasses.replace(
                v,
                expected=redact(v.expected, *secrets),
                actual=redact(v.actual, *secrets),
            )
            for v in checker.violations
        ]


def _record(
    options: Options,
    request: StartStreamRequest,
    sent_ns: int,
    status: int,
    body: bytes,
    done_ns: int,
    outcome: Outcome,
) -> None:
    """Keep a ``requests`` row for a valid create that a receiver will see."""
    if options.stream_url is None or request.url != options.stream_url:
        return  # the tarpit's: no receiver sees it, no stream to join
    params = dict(request.parameters)
    exp = Expectation.from_parameters(params)
    sid = _sid(body) if status == 200 else None
    outcome.requests.append(
        (
            options.run_id,
            exp.request_id if exp is not None else "",
            "start",
            options.conference_sid,
            request.effective_codec,
            request.effective_track,
            len(params) - 1,
            sent_ns,
            sent_ns,
            done_ns,
            status,
            sid or "",
            "" if sid else f"HTTP {status}",
            fingerprint(request.parameters),
            params.get(PARAM_NAME, ""),
            options.account_sid,
        )
    )


def _negative(
    client: _Client,
    options: Options,
    stream_url: str,
    case: Case,
    live_name: str,
    live_sid: str,
    outcome: Outcome,
) -> None:
    request = build(
        case,
        account_sid=options.account_sid,
        conference_sid=options.conference_sid,
        stream_url=stream_url,
        bad_stream_url="ws" + stream_url.removeprefix("wss"),
        live_name=live_name,
        live_sid=live_sid,
        unknown_sid=str(uuid.uuid4()),
    )
    checker = Checker(f"negative:{case.name}")
    outcome.checkers.append(checker)
    status, body, done = client.post(
        request.path, request.form, good=request.good_credentials
    )
    judge(checker, case, status, body, at_ns=done)
    if case.kind == "create" and 200 <= status < 300:
        # An invalid request the platform took: stop what it started.
        sid = _sid(body)
        if sid:
            client.post(
                f"{request.path}/{quote(sid, safe='')}", [("Status", "stopped")]
            )
            outcome.cleaned.append(sid)


def _sid(body: bytes) -> str | None:
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError):  # deep JSON too
        return None
    sid = doc.get("sid") if isinstance(doc, dict) else None
    return sid if isinstance(sid, str) and sid else None


def summary_lines(outcome: Outcome) -> list[str]:
    """One line per rule checked: verdict, id, counts, readings, first evidence."""
    counts: dict[str, list[int]] = {}
    readings: dict[str, set[str]] = {}
    evidence: dict[str, str] = {}
    for checker in outcome.checkers:
        for rule, n in checker.counts.items():
            c = counts.setdefault(rule, [0, 0])
            c[0] += n.checks
            c[1] += n.failures
        for rule, reading in checker.readings.items():
            readings.setdefault(rule, set()).add(reading)
        for v in checker.violations:
            evidence.setdefault(
                v.rule, f"{v.subject}: expected {v.expected}; got {v.actual}"
            )
    order = {rule: i for i, rule in enumerate(RULES)}
    lines = []
    for rule in sorted(counts, key=lambda r: (order.get(r, len(order)), r)):
        checks, failures = counts[rule]
        verdict = (
            "PASS" if not failures else "FAIL" if _severity(rule) == "error" else "WARN"
        )
        line = f"{verdict} {rule} {checks - failures}/{checks}"
        if rule in readings:
            line += f" [{', '.join(sorted(readings[rule]))}]"
        line += f"  {RULES[rule].statement}" if rule in RULES else ""
        if failures:
            line += f"  -- {evidence.get(rule, '')[:300]}"
        lines.append(line)
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: parse, run the suite, write records, print, exit 0/1/2."""
    lifeline.arm()  # started by streamload run: end with it
    try:
        options = parse_args(argv)
    except ConfigError as exc:
        print(f"python -m harness.conform: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if not options.conference_sid:
        try:
            found = discover_conferences(
                options.api_base,
                options.account_sid,
                options.token,
                ca_file=options.ca_file,
                timeout_s=options.timeout_s,
            )
        except DiscoveryError as exc:
            found = []
            problem = (
                f"conference discovery failed: {exc.problem}",
                "give --conference",
            )
        else:
            problem = (NO_CONFERENCE[0], NO_CONFERENCE[1].replace("-sids", ""))
        if not found:
            print(
                f"python -m harness.conform: --conference: {problem[0]}; {problem[1]}",
                file=sys.stderr,
            )
            return EXIT_USAGE
        options = dataclasses.replace(options, conference_sid=found[0])
        print(f"conference {found[0]} (discovered, 1 of {len(found)} in progress)")
    records = None
    if options.run_dir is not None:
        from harness.io.sink import RecordSink

        try:
            records = RecordSink(options.run_dir, "conform", SOURCE)
        except OSError as exc:
            print(
                f"python -m harness.conform: --run-dir: cannot use "
                f"{str(options.run_dir)!r} ({exc.strerror}); give a writable directory",
                file=sys.stderr,
            )
            return EXIT_USAGE
    outcome = run_suite(options, records)
    if records is not None:
        records.flush()
        records.write_manifest()  # rows it could not write, for the report
    for line in summary_lines(outcome):
        print(line, flush=True)
    if outcome.cleaned:
        print(f"stopped {len(outcome.cleaned)} stream(s) invalid requests created")
    return EXIT_FAIL if outcome.failed else EXIT_PASS


if __name__ == "__main__":
    sys.exit(main())
