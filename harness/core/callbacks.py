"""Status callbacks as the customer receives them: parse, check CB-* rules, record.

Sans-I/O: the sink shell (``receivers/callbacks.py``) hands over each HTTP
request as it arrived (method, the URL the platform called, headers, body,
arrival time) and :class:`CallbackChecker` checks it against contract §4, one
:class:`harness.core.rules.Checker` per stream. Nothing here raises on hostile
input.

Which method was requested (CB-003) travels in the callback URL itself, as the
query parameter :data:`METHOD_PARAM` that whoever made the create request
appended (``harness/conform/suite.py`` does), so the sink needs no side channel. A
callback without it is checked for being GET or POST only.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import hashlib
import hmac
from collections.abc import Iterator, Mapping, Sequence
from typing import Final
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from harness.core.api import TRACKS
from harness.core.checks_io import checker_rows
from harness.core.records import RowSink
from harness.core.rules import Checker
from harness.core.secret import Secret


__all__ = [
    "EVENTS",
    "METHOD_PARAM",
    "REQUIRED",
    "SIGNATURE_HEADERS",
    "SOURCE",
    "CallbackChecker",
    "signature",
    "signature_valid",
]

METHOD_PARAM: Final = "streamload-method"
"""Query parameter naming the requested ``StatusCallbackMethod`` (GET or POST)."""
SOURCE: Final = "callback"
"""``rule_checks.source`` of the rows this module writes."""
EVENTS: Final = ("stream-started", "stream-stopped", "stream-error")
REQUIRED: Final = ("AccountSid", "StreamSid", "StreamName", "StreamEvent", "Timestamp")
"""Parameters both vendors document (contract §4; Twilio has no ConferenceSid or StreamTrack)."""
SIGNATURE_HEADERS: Final = ("X-SignalWire-Signature", "X-Twilio-Signature")
"""contract §4: SignalWire's header; its reference validator also accepts Twilio's."""
_FORM: Final = "application/x-www-form-urlencoded"
_UNKNOWN_STREAM: Final = "callback:no-stream-sid"
_MAX_STREAMS: Final = 100_000
"""Streams tracked at once; past it new ones share one subject (bounded memory)."""


def signature(key: Secret, url: str, params: Sequence[tuple[str, str]]) -> str:
    """Twilio's signature: HMAC-SHA1 over the URL then each POST key and value, by key.

    https://www.twilio.com/docs/usage/webhooks/webhooks-security ; the one
    definition: the reference platform signs with it, the sink checks with it
    (tests keep an independent implementation).
    """
    data = url + "".join(k + v for k, v in sorted(params))
    digest = hmac.new(key.reveal().encode(), data.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def _port_variants(url: str) -> list[str]:
    """The URL as given, then with the default port dropped or added (Twilio's validator)."""
    try:
        parts = urlsplit(url)  # the host part comes from the peer's Host header
    except ValueError:
        return [url]
    default = 443 if parts.scheme == "https" else 80
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        return [url]
    other = host if port is not None else f"{host}:{default}"
    return [url, urlunsplit(parts._replace(netloc=other))]


def signature_valid(
    key: Secret, url: str, params: Sequence[tuple[str, str]], given: str
) -> bool:
    """Whether ``given`` signs ``url`` and ``params``, with or without the port."""
    return any(
        hmac.compare_digest(signature(key, u, params).encode(), given.encode())
        for u in _port_variants(url)
    )


def _form(body: bytes) -> list[tuple[str, str]]:
    """A form body's pairs; none when it is not UTF-8 or has too many fields."""
    try:
        return parse_qsl(
            body.decode("utf-8"), keep_blank_values=True, max_num_fields=200
        )
    except (UnicodeDecodeError, ValueError):
        return []


def _parameter_problems(params: Mapping[str, str], event: str) -> list[str]:
    """CB-002 (contract §4 parameter table): what is missing or malformed, if anything."""
    missing = [k for k in REQUIRED if not params.get(k)]
    problems = [f"missing {', '.join(missing)}"] if missing else []
    if event and event not in EVENTS:
        problems.append(f"StreamEvent {event[:40]!r}")
    if (event == "stream-error") != ("StreamError" in params):
        problems.append(
            "StreamError " + ("absent" if event == "stream-error" else "present")
        )
    track = params.get("StreamTrack")
    if track is not None and track not in TRACKS:
        problems.append(f"StreamTrack {track[:40]!r}")
    stamp = params.get("Timestamp")
    if stamp and not _iso8601(stamp):
        problems.append(f"Timestamp {stamp[:40]!r} is not ISO 8601")
    return problems


@dataclasses.dataclass(slots=True)
class _Stream:
    checker: Checker
    events: list[str] = dataclasses.field(default_factory=list)


class CallbackChecker:
    """Check every callback of a run, per stream.

    Args:
        signing_key: the key the platform signs with; ``None`` skips CB-004.
    """

    def __init__(self, signing_key: Secret | None = None) -> None:
        self.signing_key = signing_key
        self.streams: dict[str, _Stream] = {}
        self.received = 0

    @property
    def violations(self) -> int:
        return sum(s.checker.failures for s in self.streams.values())

    def receive(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes,
        at_ns: int,
        sink: RowSink,
    ) -> None:
        """Check one callback request and add its ``callbacks`` row to ``sink``.

        Args:
            method: the HTTP method as received.
            url: the full URL the platform called (scheme, host and port from
                the ``Host`` header, path and query as sent): what it signed.
            headers: request headers (case-insensitive lookups are the shell's).
            body: the raw request body.
        """
        self.received += 1
        headers = {k.lower(): v for k, v in headers.items()}
        query = parse_qsl(url.partition("?")[2], keep_blank_values=True)
        requested = next((v.upper() for k, v in query if k == METHOD_PARAM), None)
        content_type = headers.get("content-type", "").partition(";")[0].strip()
        form = _form(body) if method == "POST" and content_type == _FORM else []
        pairs = form if method == "POST" else [p for p in query if p[0] != METHOD_PARAM]
        params = dict(pairs)
        sid = params.get("StreamSid", "")
        stream = self._stream(sid)
        check = stream.checker.check
        event = params.get("StreamEvent", "")

        # CB-003: contract §1.1 StatusCallbackMethod; §4 form POST or GET query
        encoding_ok = (
            content_type == _FORM
            if method == "POST"
            else method == "GET" and bool(pairs)
        )
        check(
            "CB-003",
            (requested is None or method == requested) and encoding_ok,
            expected=f"{requested or 'GET or POST'} with the parameters "
            + ("in a form body" if (requested or method) == "POST" else "in the query"),
            actual=f"{method[:10]} {content_type[:40] or 'no content type'}",
            at_ns=at_ns,
        )
        # CB-002: contract §4 parameter table
        problems = _parameter_problems(params, event)
        check(
            "CB-002",
            not problems,
            expected="the documented parameters",
            actual="; ".join(problems),
            at_ns=at_ns,
        )
        # CB-001: contract §4 events, in order
        if event in EVENTS:
            self._order(stream, event, at_ns)
        state = self._signature(
            stream, url, headers, form if method == "POST" else [], at_ns
        )
        sink.add(
            "callbacks",
            (
                sid,
                event,
                method[:10],
                at_ns,
                state == "valid",
                state,
                params.get("StreamName", ""),
                params.get("StreamError", ""),
                params.get("Timestamp") or "",
            ),
        )

    def _signature(
        self,
        stream: _Stream,
        url: str,
        headers: Mapping[str, str],
        signed: list[tuple[str, str]],
        at_ns: int,
    ) -> str:
        """CB-004, CB-005 (contract §4 "Signing"): judge the signature, note its header.

        ``signed``: the form parameters (a GET signs the URL alone). Returns
        ``valid``, ``invalid``, ``missing`` or ``unchecked`` (no signing key).
        """
        header, given = next(
            (
                (h, headers[h.lower()])
                for h in SIGNATURE_HEADERS
                if h.lower() in headers
            ),
            ("", None),
        )
        state = "unchecked"
        if self.signing_key is not None:
            ok = given is not None and signature_valid(
                self.signing_key, url, signed, given
            )
            state = "valid" if ok else "missing" if given is None else "invalid"
            stream.checker.check(
                "CB-004",
                ok,
                expected=f"a valid {' or '.join(SIGNATURE_HEADERS)}",
                actual=state,  # never the signature itself
                at_ns=at_ns,
            )
        stream.checker.note("CB-005", header or "none")
        return state

    def close(self, sink: RowSink) -> None:
        """Add every stream's rule counts and evidence to ``sink`` (call once, at the end)."""
        for table, row in self.rows():
            sink.add(table, row)

    def rows(self) -> Iterator[tuple[str, tuple[object, ...]]]:
        for stream in self.streams.values():
            yield from checker_rows(SOURCE, stream.checker)

    def _stream(self, sid: str) -> _Stream:
        subject = sid[:100] if sid else _UNKNOWN_STREAM
        stream = self.streams.get(subject)
        if stream is None:
            if len(self.streams) >= _MAX_STREAMS:
                subject = _UNKNOWN_STREAM
                stream = self.streams.get(subject)
            if stream is None:
                stream = self.streams[subject] = _Stream(Checker(subject))
        return stream

    @staticmethod
    def _order(stream: _Stream, event: str, at_ns: int) -> None:
        seen = stream.events
        if event == "stream-started":
            ok = not seen
            expected = "stream-started first"
        elif event == "stream-stopped":
            ok = seen == ["stream-started"]
            expected = "stream-stopped after stream-started, once"
        else:  # an error may end a stream that never started (connection refused)
            ok = seen in ([], ["stream-started"])
            expected = "stream-error before any stream-stopped, once"
        stream.checker.check(
            "CB-001",
            ok,
            expected=expected,
            actual=" then ".join([*seen[-3:], event]),
            at_ns=at_ns,
        )
        if len(seen) < 16:
            seen.append(event)


def _iso8601(text: str) -> bool:
    try:
        datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True
