"""The negative suite as data: invalid requests, what each checks, which answers pass.

Sans-I/O: :data:`CASES` lists each invalid request once (a name, how to build
it, the rule it checks and the answers docs/contract.md allows), :func:`build` turns a
case into a concrete request and :func:`judge` checks an answer into a
:class:`harness.core.rules.Checker`. The runner that sends them is
:mod:`harness.conform`.

contract §10 leaves the status of a validation failure open (400 with a
``CompatibilityErrorResponse`` or 422 with ``{"errors": [...]}``), so every
reading the docs allow passes and the one seen is recorded; what fails is an
answer no reading allows (a 200, a 500, a code that contradicts the case, a
body of the wrong shape).
"""

from __future__ import annotations

import dataclasses
from typing import Final, Literal

import msgspec

from harness.core.api import MAX_PARAMETERS
from harness.core.rules import Checker


__all__ = [
    "CASES",
    "Answer",
    "Case",
    "Request",
    "Target",
    "body_code",
    "build",
    "error_shape",
    "judge",
]

Target = Literal["streams", "unknown-stream", "live-stream"]
"""What a case posts to: the create path, a stream that does not exist, or the suite's live stream."""


@dataclasses.dataclass(frozen=True, slots=True)
class Answer:
    """One acceptable answer: an HTTP status and, when the body carries a code, that code."""

    status: int
    code: int | None = None
    """``None``: any code (or none); else a ``CompatibilityErrorResponse`` must carry it."""


_VALIDATION: Final = (Answer(400), Answer(422))
"""contract §1.3, §10: either status may answer a validation failure."""
_BAD_URL: Final = (Answer(400, 31922), Answer(422, 31922))
"""contract §1.3: 31922 "The websocket URL ... is invalid / schema is not WSS / whitespace"."""


@dataclasses.dataclass(frozen=True, slots=True)
class Case:
    """One invalid request and the answers that keep the contract."""

    name: str
    rule: str
    """The rule id it checks (REST-ERROR-001 is checked on every refusal too)."""
    kind: Literal["create", "stop"]
    fields: tuple[tuple[str, str], ...]
    """Form fields; ``{url}``/``{bad_url}``/``{name}`` are filled in by :func:`build`."""
    accept: tuple[Answer, ...]
    target: Target = "streams"
    credentials: Literal["good", "bad"] = "good"
    account: Literal["good", "unknown"] = "good"
    conference: Literal["good", "unknown"] = "good"


def _hundred_parameters() -> tuple[tuple[str, str], ...]:
    fields = [("Url", "{url}")]
    for i in range(1, MAX_PARAMETERS + 2):
        fields += [(f"Parameter{i}.Name", f"p{i}"), (f"Parameter{i}.Value", f"v{i}")]
    return tuple(fields)


CASES: Final[tuple[Case, ...]] = (
    Case("ws-url", "REST-REJECT-001", "create", (("Url", "{bad_url}"),), _BAD_URL),
    Case(
        "url-whitespace",
        "REST-REJECT-002",
        "create",
        (("Url", "{url} "),),
        _BAD_URL,
    ),
    Case(
        "url-no-host",
        "REST-REJECT-002",
        "create",
        (("Url", "wss:///streamload"),),
        _BAD_URL,
    ),
    Case("url-missing", "REST-REJECT-003", "create", (("Name", "{name}-x"),), _VALIDATION),
    Case(
        "track-unknown",
        "REST-REJECT-004",
        "create",
        (("Url", "{url}"), ("Track", "sideways_track")),
        _VALIDATION,
    ),
    Case(
        "codec-unknown",
        "REST-REJECT-004",
        "create",
        (("Url", "{url}"), ("StreamCodec", "G729")),
        _VALIDATION,
    ),
    Case("parameter-100", "REST-REJECT-005", "create", _hundred_parameters(), _VALIDATION),
    Case(
        "credentials-bad",
        "REST-REJECT-006",
        "create",
        (("Url", "{url}"),),
        (Answer(401, 20003),),
        credentials="bad",
    ),
    Case(
        "account-unknown",
        "REST-REJECT-007",
        "create",
        (("Url", "{url}"),),
        # contract §9.1: the user is not that account, so 401 is a reading too
        (Answer(404, 20404), Answer(401, 20003)),
        account="unknown",
    ),
    Case(
        "conference-unknown",
        "REST-REJECT-008",
        "create",
        (("Url", "{url}"),),
        (Answer(404, 20404),),
        conference="unknown",
    ),
    Case(
        "name-duplicate",
        "REST-REJECT-009",
        "create",
        (("Url", "{url}"), ("Name", "{name}")),
        _VALIDATION,
    ),
    Case(
        "stop-unknown",
        "REST-REJECT-010",
        "stop",
        (("Status", "stopped"),),
        (Answer(404, 20404),),
        target="unknown-stream",
    ),
    Case(
        "stop-status",
        "REST-REJECT-011",
        "stop",
        (("Status", "in-progress"),),
        _VALIDATION,
        target="live-stream",
    ),
)  # fmt: skip
"""Each invalid request of issue 4, sent once per run (the order is the sending order)."""


@dataclasses.dataclass(frozen=True, slots=True)
class Request:
    """A concrete request: what the runner sends (secrets are filled in there)."""

    case: Case
    path: str
    """From the API base on, e.g. ``/Accounts/A/Conferences/C/Streams``."""
    form: tuple[tuple[str, str], ...]
    account_sid: str
    """The Basic-auth user (always the real account: only the path changes)."""
    good_credentials: bool


def build(
    case: Case,
    *,
    account_sid: str,
    conference_sid: str,
    stream_url: str,
    bad_stream_url: str,
    live_name: str,
    live_sid: str,
    unknown_sid: str,
) -> Request:
    """Fill a case in: paths, URLs and the live stream's name and sid.

    ``unknown_sid`` stands for the unknown account, conference and stream (a
    fresh UUID from the runner, so this stays pure).
    """
    account = unknown_sid if case.account == "unknown" else account_sid
    conference = unknown_sid if case.conference == "unknown" else conference_sid
    path = f"/Accounts/{account}/Conferences/{conference}/Streams"
    if case.target == "unknown-stream":
        path += f"/{unknown_sid}"
    elif case.target == "live-stream":
        path += f"/{live_sid}"
    values = {"url": stream_url, "bad_url": bad_stream_url, "name": live_name}
    form = tuple((k, v.format(**values)) for k, v in case.fields)
    return Request(case, path, form, account_sid, case.credentials == "good")


def error_shape(status: int, doc: object) -> str | None:
    """Which documented error body ``doc`` is, or ``None`` (contract §1.3)."""
    if not isinstance(doc, dict):
        return None
    if set(doc) == {"errors"}:
        errors = doc["errors"]
        if isinstance(errors, list) and all(isinstance(e, str) for e in errors):
            return "errors"
        return None
    if (
        set(doc) == {"code", "message", "more_info", "status"}
        and isinstance(doc["code"], int)
        and not isinstance(doc["code"], bool)
        and isinstance(doc["message"], str)
        and isinstance(doc["more_info"], str)
        and doc["status"] == status
    ):
        return "compat"
    return None


def body_code(doc: object) -> int | None:
    """The compatibility error code of a body, if it carries one."""
    if isinstance(doc, dict):
        code = doc.get("code")
        if isinstance(code, int) and not isinstance(code, bool):
            return code
    return None


def _decode(body: bytes) -> object:
    try:
        return msgspec.json.decode(body)
    except msgspec.DecodeError:
        return None


def judge(
    checker: Checker, case: Case, status: int, body: bytes, *, at_ns: int = 0
) -> str:
    """Check one answer to ``case``; return the reading (e.g. ``"400/31922"``).

    A status of 0 means no answer came. The reading is also recorded on the
    checker, so reports show which allowed answer the platform gives.
    """
    doc = _decode(body)
    code = body_code(doc)
    reading = f"{status}/{code}" if code is not None else str(status or "no answer")
    shape = error_shape(status, doc) if status >= 400 else None
    if status >= 400:
        # contract §1.3: 422 is documented as an errors list for conference
        # streams and as a CompatibilityErrorResponse for call streams.
        wanted = ("errors", "compat") if status == 422 else ("compat",)
        checker.check(
            "REST-ERROR-001",
            shape in wanted,
            expected=(
                '{"errors": [...]} or {code, message, more_info, status}'
                if status == 422
                else f"{{code, message, more_info, status: {status}}}"
            ),
            actual=body[:200].decode("utf-8", "replace") or "an empty body",
            at_ns=at_ns,
        )
    ok = any(
        a.status == status and (a.code is None or code is None or a.code == code)
        for a in case.accept
    )
    checker.readings[case.rule] = reading
    checker.check(
        case.rule,
        ok,
        expected=" or ".join(
            f"{a.status}" + (f" (code {a.code})" if a.code else "") for a in case.accept
        ),
        actual=reading + (" (accepted)" if 200 <= status < 300 else ""),
        at_ns=at_ns,
    )
    return reading
