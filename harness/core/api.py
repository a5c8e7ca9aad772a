"""The REST contract of conference streams: request fields, parsing, responses (contract §1-2).

Pure functions over parsed forms and bodies. The reference platform parses
requests with :func:`parse_start`; scenarios build them with
:meth:`StartStreamRequest.form` and check answers with :func:`check_stream_response`.
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import re
from collections.abc import Callable, Mapping
from email.utils import parsedate_to_datetime
from typing import Final, Literal
from urllib.parse import urlsplit

import msgspec

from harness.core.codecs import CODEC_NAMES
from harness.core.rules import Checker
from harness.core.secret import Secret


__all__ = [
    "API_PREFIXES",
    "MAX_PARAMETERS",
    "RESPONSE_FIELDS",
    "TRACKS",
    "TRACK_MEDIA",
    "FieldError",
    "StartStreamRequest",
    "check_stream_response",
    "in_progress_conferences",
    "parse_start",
    "parse_stop",
    "rfc2822",
    "sid_dialect",
]

TRACKS: Final = ("inbound_track", "outbound_track", "both_tracks")
"""``Track`` values; the REST default is ``both_tracks`` (contract §1.1)."""

TRACK_MEDIA: Final[dict[str, tuple[str, ...]]] = {
    "inbound_track": ("inbound",),
    "outbound_track": ("outbound",),
    "both_tracks": ("inbound", "outbound"),
}
"""``Track`` value to the ``start.tracks`` / ``media.track`` names (contract §5.2)."""

MAX_PARAMETERS: Final = 99
RESPONSE_FIELDS: Final = frozenset(
    {"account_sid", "conference_sid", "date_updated", "name", "sid", "status", "uri"}
)
API_PREFIXES: Final = ("/api/laml/2010-04-01", "/2010-04-01")
"""Documented prefix first; the Twilio-style one is what Twilio-based SDKs call (contract §1)."""

_STRING_FIELDS: Final = tuple(sorted(RESPONSE_FIELDS - {"name"}))
_TWILIO_STREAM_SID = re.compile(r"MZ[0-9a-fA-F]{32}")
_UUID = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)
"""A UUID in its canonical 8-4-4-4-12 spelling, either case: what
``str(uuid.UUID(v)) == v.lower()`` accepts (a property test holds them equal),
without building a ``UUID`` for every answer."""
_PARAM_FIELD = re.compile(r"Parameter(\d+)\.(Name|Value)")
_RFC2822 = re.compile(
    r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} "
    r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} \+0000"
)


@dataclasses.dataclass(frozen=True, slots=True)
class FieldError:
    """Why a request was refused, in the documented error vocabulary (contract §1.3)."""

    field: str
    message: str
    status: Literal[400, 422] = 422
    code: int | None = None
    """Compatibility error code, e.g. 31922 for a bad WebSocket URL (contract §1.3)."""


@dataclasses.dataclass(frozen=True, slots=True)
class StartStreamRequest:
    """A ``CreateConferenceStreamRequest`` (contract §1.1)."""

    url: str
    name: str | None = None
    track: str | None = None
    codec: str | None = None
    real_time: bool | None = None
    status_callback: str | None = None
    status_callback_method: str | None = None
    parameters: tuple[tuple[str, str], ...] = ()
    bearer_token: Secret | None = None

    @property
    def effective_track(self) -> str:
        return self.track or "both_tracks"

    @property
    def effective_codec(self) -> str:
        return self.codec or "PCMU"

    def form(self) -> list[tuple[str, str]]:
        """Encode as form fields, in the documented spelling."""
        fields: list[tuple[str, str]] = [("Url", self.url)]
        optional = (
            ("Name", self.name),
            ("Track", self.track),
            ("StreamCodec", self.codec),
            ("StatusCallback", self.status_callback),
            ("StatusCallbackMethod", self.status_callback_method),
        )
        fields += [(k, v) for k, v in optional if v is not None]
        if self.real_time is not None:
            fields.append(("StreamRealTime", "true" if self.real_time else "false"))
        for i, (pname, pvalue) in enumerate(self.parameters, start=1):
            fields += [(f"Parameter{i}.Name", pname), (f"Parameter{i}.Value", pvalue)]
        if self.bearer_token is not None:
            fields.append(("AuthorizationBearerToken", self.bearer_token.reveal()))
        return fields


def _check_wss_url(url: str) -> FieldError | None:
    # contract §1.3: 31922 "schema is not WSS / trailing whitespace / embedded whitespace"
    if url != url.strip() or any(c.isspace() for c in url):
        return FieldError("Url", "the websocket URL has whitespace", 400, 31922)
    parts = urlsplit(url)
    if parts.scheme.lower() != "wss":
        return FieldError("Url", "the websocket URL schema is not WSS", 400, 31922)
    if not parts.hostname:
        return FieldError("Url", "the websocket URL provided is invalid", 400, 31922)
    try:
        _ = parts.port
    except ValueError:
        return FieldError("Url", "the websocket URL provided is invalid", 400, 31922)
    return None


def _check_http_url(field: str, url: str) -> FieldError | None:
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return FieldError(field, f"{field} is not a fully qualified URL", 400, 21402)
    return None


def _parameters(
    fields: Mapping[str, str],
) -> tuple[tuple[tuple[str, str], ...], list[FieldError]]:
    names: dict[int, str] = {}
    values: dict[int, str] = {}
    errors: list[FieldError] = []
    out_of_range: set[int] = set()
    for key, value in fields.items():
        m = _PARAM_FIELD.fullmatch(key)
        if m is None:
            continue
        digits = m.group(1)
        if len(digits) > 4:  # int() of thousands of digits is slow, then refused
            errors.append(
                FieldError(
                    f"Parameter{digits[:4]}...{m.group(2)}",
                    f"a parameter index of {len(digits)} digits; custom parameters "
                    f"are numbered 1 to {MAX_PARAMETERS}",
                )
            )
            continue
        index = int(digits)
        if not 1 <= index <= MAX_PARAMETERS:
            if index not in out_of_range:
                out_of_range.add(index)
                errors.append(
                    FieldError(
                        f"Parameter{index}.Name",
                        f"custom parameters are numbered 1 to {MAX_PARAMETERS}",
                    )
                )
            continue
        (names if m.group(2) == "Name" else values)[index] = value
    for index in sorted(set(names) | set(values)):
        if index not in names:
            errors.append(
                FieldError(f"Parameter{index}.Name", "a value without a name")
            )
        elif index not in values:
            errors.append(
                FieldError(f"Parameter{index}.Value", "a name without a value")
            )
    present = sorted(set(names) & set(values))
    if present and present != list(range(1, len(present) + 1)):
        gap = next(i for i, n in enumerate(present, start=1) if i != n)
        errors.append(
            FieldError(
                f"Parameter{gap}.Name",
                "custom parameters must be numbered without gaps",
            )
        )
    return tuple((names[i], values[i]) for i in present), errors


def parse_start(
    fields: Mapping[str, str], *, conference: bool = True
) -> StartStreamRequest | list[FieldError]:
    """Validate a create request's fields; return the request or every error found.

    ``conference=False`` applies the call-stream rules: no ``StreamCodec`` or
    ``StreamRealTime`` (contract §2.2).
    """
    errors: list[FieldError] = []
    url = fields.get("Url")
    if url is None or url == "":
        errors.append(FieldError("Url", "Url is required"))
    elif (bad := _check_wss_url(url)) is not None:
        errors.append(bad)
    track = fields.get("Track")
    if track is not None and track not in TRACKS:
        errors.append(FieldError("Track", f"Track must be one of {', '.join(TRACKS)}"))
    codec = fields.get("StreamCodec")
    if codec is not None and (not conference or codec not in CODEC_NAMES):
        allowed = ", ".join(CODEC_NAMES) if conference else "nothing on call streams"
        errors.append(
            FieldError("StreamCodec", f"StreamCodec must be one of {allowed}")
        )
    real_time: bool | None = None
    raw_rt = fields.get("StreamRealTime")
    if raw_rt is not None:
        if not conference or raw_rt.lower() not in ("true", "false"):
            errors.append(
                FieldError("StreamRealTime", "StreamRealTime must be true or false")
            )
        else:
            real_time = raw_rt.lower() == "true"
    method = fields.get("StatusCallbackMethod")
    if method is not None and method.upper() not in ("GET", "POST"):
        errors.append(
            FieldError(
                "StatusCallbackMethod", "StatusCallbackMethod must be GET or POST"
            )
        )
    callback = fields.get("StatusCallback")
    if callback and (bad := _check_http_url("StatusCallback", callback)) is not None:
        errors.append(bad)
    parameters, param_errors = _parameters(fields)
    errors += param_errors
    if errors:
        return errors
    token = fields.get("AuthorizationBearerToken")
    return StartStreamRequest(
        url=url or "",
        name=fields.get("Name") or None,
        track=track,
        codec=codec,
        real_time=real_time,
        status_callback=callback or None,
        status_callback_method=method.upper() if method else None,
        parameters=parameters,
        bearer_token=Secret(token) if token else None,
    )


def parse_stop(fields: Mapping[str, str]) -> FieldError | None:
    """Validate a stop request: ``Status`` is required and only ``stopped`` is allowed (contract §2.1)."""
    status = fields.get("Status")
    if status is None:
        return FieldError("Status", "Status is required")
    if status != "stopped":
        return FieldError("Status", "Only 'stopped' is allowed")
    return None


def rfc2822(epoch_s: float) -> str:
    """Format a time as RFC 2822 with ``+0000``, as ``date_updated`` is (contract §1.2).

    The time is an argument; formatting it reads no clock.
    """
    when = datetime.datetime.fromtimestamp(epoch_s, datetime.UTC)
    return when.strftime("%a, %d %b %Y %H:%M:%S +0000")


def sid_dialect(value: object) -> Literal["signalwire", "twilio"] | None:
    """Which dialect a stream sid's format belongs to, if any (contract §1.2, §2.3).

    SignalWire's are UUIDs; Twilio's are ``MZ`` and 32 hex digits.
    """
    if _is_uuid(value):
        return "signalwire"
    if isinstance(value, str) and _TWILIO_STREAM_SID.fullmatch(value):
        return "twilio"
    return None


def _is_uuid(value: object) -> bool:
    return isinstance(value, str) and _UUID.fullmatch(value) is not None


def check_stream_response(
    checker: Checker,
    status: int,
    body: bytes,
    *,
    kind: Literal["create", "stop"],
    account_sid: str,
    conference_sid: str,
    name: str | None,
    stream_sid: str | None = None,
    at_ns: int = 0,
    content_type: str | None = None,
) -> dict[str, object] | None:
    """Check a create or stop answer against contract §1.2/§2.1; return the parsed body if usable.

    ``content_type``: the answer's Content-Type header (``""``: none); ``None``
    when the caller cannot tell, and REST-CREATE-008 is not judged.
    """
    ok_rule = "REST-CREATE-001" if kind == "create" else "REST-STOP-001"
    fields_rule = "REST-CREATE-002" if kind == "create" else "REST-STOP-002"
    if not checker.check(
        ok_rule, status == 200, expected=200, actual=status, at_ns=at_ns
    ):
        return None
    if content_type is not None:
        media_type = content_type.partition(";")[0].strip().lower()
        _judge(
            checker,
            "REST-CREATE-008",
            media_type == "application/json",
            at_ns,
            lambda: (
                f"Content-Type application/json ({kind} answer)",
                content_type[:80] or "no Content-Type",
            ),
        )
    doc = _stream_fields(checker, fields_rule, body, at_ns)
    if doc is None:
        return None
    if kind == "stop":
        _check_stopped(checker, doc, stream_sid, at_ns)
    else:
        _check_created(checker, doc, account_sid, conference_sid, name, at_ns)
    return doc


def _stream_fields(
    checker: Checker, fields_rule: str, body: bytes, at_ns: int
) -> dict[str, object] | None:
    """Parse a Stream resource and judge its field set and types (``fields_rule``).

    ``None`` when the body is not a JSON object: nothing more can be judged.
    """
    try:
        doc = msgspec.json.decode(body)
    except msgspec.DecodeError as exc:
        checker.check(
            fields_rule, False, expected="a JSON object", actual=str(exc), at_ns=at_ns
        )
        return None
    if not isinstance(doc, dict):
        checker.check(
            fields_rule,
            False,
            expected="a JSON object",
            actual=type(doc).__name__,
            at_ns=at_ns,
        )
        return None
    keys = doc.keys()
    name = doc.get("name")
    _judge(
        checker,
        fields_rule,
        keys == RESPONSE_FIELDS
        and all(isinstance(doc.get(k), str) for k in _STRING_FIELDS)
        and (name is None or isinstance(name, str)),
        at_ns,
        lambda: (
            sorted(RESPONSE_FIELDS),
            sorted(keys) if keys != RESPONSE_FIELDS else "a field of the wrong type",
        ),
    )
    return doc


def _judge(
    checker: Checker,
    rule: str,
    ok: bool,
    at_ns: int,
    evidence: Callable[[], tuple[object, object]],
) -> bool:
    """``checker.check`` with its (expected, actual) text built only for a failure.

    An answer that passes (nearly every one of thousands a second) pays no
    formatting: the evidence is what a violation row shows, nothing else.
    """
    if ok:
        return checker.check(rule, True)
    expected, actual = evidence()
    return checker.check(rule, False, expected=expected, actual=actual, at_ns=at_ns)


def _check_stopped(
    checker: Checker, doc: dict[str, object], stream_sid: str | None, at_ns: int
) -> None:
    """A stop answer: status ``stopped``, and the sid asked for if the caller knows it."""
    checker.check(
        "REST-STOP-001",
        doc.get("status") == "stopped",
        expected="stopped",
        actual=doc.get("status"),
        at_ns=at_ns,
    )
    if stream_sid is not None:
        checker.check(
            "REST-STOP-002",
            doc.get("sid") == stream_sid,
            expected=stream_sid,
            actual=doc.get("sid"),
            at_ns=at_ns,
        )


def _check_created(
    checker: Checker,
    doc: dict[str, object],
    account_sid: str,
    conference_sid: str,
    name: str | None,
    at_ns: int,
) -> None:
    """A create answer: REST-CREATE-003 to -007, field by field."""
    sid = doc.get("sid")
    dialect = sid_dialect(sid)
    account, conference = doc.get("account_sid"), doc.get("conference_sid")
    if _judge(
        checker,
        "REST-CREATE-003",
        dialect is not None and account == account_sid and conference == conference_sid,
        at_ns,
        lambda: (
            f"uuid sid, account {account_sid}, conference {conference_sid}",
            f"sid {sid}, account {account}, conference {conference}",
        ),
    ):
        checker.readings["REST-CREATE-003"] = str(dialect)
    date = doc.get("date_updated")
    _judge(
        checker,
        "REST-CREATE-004",
        _rfc2822_date(date),
        at_ns,
        lambda: ("e.g. Mon, 30 Oct 2023 15:35:13 +0000", date),
    )
    uri = doc.get("uri")
    _judge(
        checker,
        "REST-CREATE-005",
        isinstance(uri, str)
        and uri.endswith(f"/Conferences/{conference_sid}/Streams/{sid}.json"),
        at_ns,
        lambda: (f".../Conferences/{conference_sid}/Streams/{sid}.json", uri),
    )
    got = doc.get("name")
    _judge(checker, "REST-CREATE-006", got == name, at_ns, lambda: (name, got))
    state = doc.get("status")
    if state in ("queued", "in-progress"):
        checker.note("REST-CREATE-007", str(state))
    else:
        checker.check(
            "REST-CREATE-007",
            False,
            expected="queued or in-progress",
            actual=state,
            at_ns=at_ns,
        )


def _rfc2822_date(date: object) -> bool:
    """Whether ``date`` is an RFC 2822 date string that also parses as a real date."""
    if not isinstance(date, str) or _RFC2822.fullmatch(date) is None:
        return False
    return _parses_as_date(date)


@functools.lru_cache(maxsize=256)
def _parses_as_date(date: str) -> bool:
    """Whether ``email.utils`` reads ``date`` (already of the pattern's 31 characters).

    Cached: a platform's ``date_updated`` changes once a second, and the parse
    cost ~8 µs, a fifth of a start's own checks at thousands of starts a
    second (issue 14). Each distinct value is still parsed once.
    """
    try:
        parsedate_to_datetime(date)
    except (TypeError, ValueError):
        return False
    return True


def in_progress_conferences(doc: object) -> list[str]:
    """The sids of the in-progress conferences in a ``Conferences.json`` page.

    The load (scenarios) and the negative suite discover conferences the same
    way, through this one reading of the Twilio-style list page
    (https://www.twilio.com/docs/voice/api/conference-resource#read-multiple-conference-resources).
    """
    items = doc.get("conferences") if isinstance(doc, Mapping) else None
    if not isinstance(items, list):
        return []
    return [
        str(c["sid"])
        for c in items
        if isinstance(c, Mapping)
        and c.get("status") == "in-progress"
        and isinstance(c.get("sid"), str)
        and c["sid"]
    ]
