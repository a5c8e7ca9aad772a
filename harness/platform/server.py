"""The REST API of the reference platform: conference and call streams over HTTPS (contract §1-2).

Routes exist under both prefixes (``/api/laml/2010-04-01`` documented,
``/2010-04-01`` Twilio-style) and with and without ``.json`` (contract §1
"Which path and body variants"). Request validation is the core's
(:func:`harness.core.api.parse_start`); this module maps its errors to the two
documented bodies: a ``CompatibilityErrorResponse`` for 400/401/404 and
``{"errors": [...]}`` for 422 (contract §1.3; call streams answer a 422 in the
first shape, §2.2). Every failure is a 4xx with a JSON body naming the field:
no request can produce a 5xx, except the ones ``--fault api-error`` injects.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import dataclasses
import datetime
import json
import logging
import random
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from typing import Final

from aiohttp import web

from harness.core.api import API_PREFIXES, FieldError, parse_start, parse_stop, rfc2822
from harness.core.secret import Secret
from harness.platform.core.dial import DialPolicy
from harness.platform.core.state import Call, Conference, Stream, StreamKind
from harness.platform.supervisor import Supervisor


__all__ = ["MORE_INFO", "Api", "error_body", "stream_body"]

log = logging.getLogger(__name__)

MORE_INFO: Final = "https://signalwire.com/docs/compatibility-api/reference/errors"
_REALM: Final = 'Basic realm="SignalWire Compatibility API"'
_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def error_body(status: int, code: int, message: str) -> dict[str, object]:
    """A ``CompatibilityErrorResponse`` (contract §1.3)."""
    return {"code": code, "message": message, "more_info": MORE_INFO, "status": status}


def stream_body(
    stream: Stream,
    account_sid: str,
    uri_prefix: str,
    defects: frozenset[str] = frozenset(),
    *,
    created: bool = False,
    nullable_call_name: bool = False,
) -> dict[str, object]:
    """A ``ConferenceStreamResponse`` (contract §1.2) or ``CallStreamResponse`` (§2.2).

    Exactly the seven documented fields, unless a REST ``--defect`` says otherwise.
    A call stream's ``name`` is "string, not nullable" in SignalWire's spec, so an
    unnamed one answers its sid (as ``StreamName`` does, contract §4); Twilio's
    ``name`` is nullable (``nullable_call_name``).
    """
    sid = stream.sid.replace("-", "") if "sid-not-uuid" in defects else stream.sid
    if "date-format" in defects:
        updated = datetime.datetime.fromtimestamp(stream.updated_s, datetime.UTC)
        date = updated.isoformat(timespec="seconds")
    else:
        date = rfc2822(stream.updated_s)
    status = "stopped" if created and "status-stopped" in defects else stream.status
    accounts = f"{uri_prefix}/Accounts/{account_sid}"
    body: dict[str, object]
    if stream.kind == "conference":
        name = stream.name
        if name is None and "name-not-null" in defects:
            name = ""
        body = {
            "account_sid": account_sid,
            "conference_sid": stream.conference_sid,
            "date_updated": date,
            "name": name,
            "sid": sid,
            "status": status,
            "uri": f"{accounts}/Conferences/{stream.conference_sid}/Streams/{sid}.json",
        }
    else:
        body = {
            "sid": sid,
            "account_sid": account_sid,
            "call_sid": stream.call_sid,
            "name": stream.name
            if stream.name is not None or nullable_call_name
            else stream.sid,
            "status": status,
            "date_updated": date,
            "uri": f"{accounts}/Calls/{stream.call_sid}/Streams/{sid}.json",
        }
    if "uri-no-json" in defects:
        body["uri"] = str(body["uri"]).removesuffix(".json")
    if "extra-field" in defects:
        body["api_version"] = "2010-04-01"
    return body


def _json(
    status: int, body: object, headers: dict[str, str] | None = None
) -> web.Response:
    return web.json_response(body, status=status, headers=headers)


def _field_errors(errors: Iterable[FieldError], *, call: bool = False) -> web.Response:
    errors = list(errors)
    # contract §1.3/§9.2: a documented code (31922 bad WebSocket URL) goes in a 400
    # CompatibilityErrorResponse; plain validation failures in a 422 errors list
    # for conference streams, a 422 CompatibilityErrorResponse for call streams (§2.2).
    coded = next((e for e in errors if e.status == 400), None)
    if coded is not None:
        message = f"{coded.field}: {coded.message}"
        return _json(400, error_body(400, coded.code or 400, message))
    messages = [f"{e.field}: {e.message}" for e in errors]
    if call:
        return _json(422, error_body(422, 422, "; ".join(messages)))
    return _json(422, {"errors": messages})


def _not_found(path: str) -> web.Response:
    return _json(
        404, error_body(404, 20404, f"The requested resource {path} was not found")
    )


def _basic_credentials(header: str | None) -> tuple[str, str] | None:
    """Split a Basic ``Authorization`` header (RFC 7617) into user and password."""
    if header is None:
        return None
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    user, colon, password = decoded.partition(":")
    return (user, password) if colon else None


def _scalar(value: object) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    return None


async def _fields(request: web.Request) -> dict[str, str] | list[FieldError]:
    """Read the body as form fields; JSON objects are accepted too (contract §1, §10)."""
    fields: dict[str, str] = {}
    errors: list[FieldError] = []
    if request.content_type == "application/json":
        raw = await request.read()
        if not raw.strip():
            return fields
        try:
            doc = json.loads(raw)
        except (ValueError, RecursionError):
            return [
                FieldError("body", "is not valid JSON; send a JSON object or a form")
            ]
        if not isinstance(doc, dict):
            return [FieldError("body", "must be a JSON object")]
        for key, value in doc.items():
            if value is None:
                continue
            text = _scalar(value)
            if text is None:
                errors.append(FieldError(key, "must be a string"))
            else:
                fields[key] = text
        return errors or fields
    try:
        form = await request.post()
    except web.HTTPException:
        raise  # 413 and the like keep their status
    # Anything else the form parsers raise (bad UTF-8, a broken multipart) is
    # the client's fault, so a 422 naming the body, never a 5xx.
    except Exception as exc:
        return [
            FieldError("body", f"could not be read as a form ({type(exc).__name__})")
        ]
    for key, value in form.items():
        if not isinstance(value, str):
            errors.append(FieldError(key, "must be a text field, not a file"))
        elif key not in fields:  # a repeated field: the first one counts
            fields[key] = value
    return errors or fields


_FIT: Final = (
    "a create request needs at most 209 form fields (Url, Name, Track, StreamCodec, "
    "StreamRealTime, StatusCallback, StatusCallbackMethod, AuthorizationBearerToken "
    "and Parameter1..99 .Name/.Value) in at most 1 MiB: send fewer or smaller fields"
)
"""The fix a 413 names (aiohttp refuses more than 1,000 form fields or 1 MiB)."""


@web.middleware
async def _json_errors(request: web.Request, handler: _Handler) -> web.StreamResponse:
    """Turn every error, ours or aiohttp's, into a JSON 4xx (contract §1.3)."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        if exc.status == 404:
            return _not_found(request.path)
        status = exc.status if exc.status < 500 else 400
        code = 20004 if status == 405 else status  # Twilio's "Method not allowed"
        if status == 413:  # aiohttp's text says which limit: keep it, add the fix
            detail = (exc.text or exc.reason).strip().rstrip(".")
            return _json(status, error_body(status, code, f"body: {detail}; {_FIT}"))
        return _json(status, error_body(status, code, exc.reason))
    except Exception:
        log.exception("request %s %s failed", request.method, request.path)
        return _json(400, error_body(400, 400, "The request could not be processed"))


_API_ERRORS: Final = (
    (500, 20500, "Internal Server Error"),
    (503, 20503, "Service Unavailable"),
)
"""What ``--fault api-error`` answers, half and half (contract §2.2 lists 503 for call streams)."""


class Api:
    """The HTTP handlers, bound to one platform's account, token and streams.

    ``--fault api-latency`` delays every answer; ``--fault api-error`` answers a
    share of create and stop requests with 500 or 503 (logged in ``impairments``);
    the REST ``--defect`` switches change the stream bodies (:func:`stream_body`).
    """

    def __init__(
        self, supervisor: Supervisor, token: Secret, *, dial: DialPolicy | None = None
    ) -> None:
        self._supervisor = supervisor
        self._dial = dial if dial is not None else DialPolicy()
        self._registry = supervisor.registry
        self._token = token
        self._account = supervisor.account_sid
        self._prefix = supervisor.dialect.uri_prefix
        self._twilio = supervisor.dialect.name == "twilio"
        settings = supervisor.settings
        self._defects = settings.defects
        self._faults = settings.faults
        self._rng = random.Random(f"streamload/{supervisor.seed}/api")

    def app(self, *, client_max_size: int = 1024**2) -> web.Application:
        """Build the aiohttp application with every route variant."""
        middlewares = [_json_errors]
        if self._faults.api_latency_ns:
            middlewares.insert(0, self._latency)
        app = web.Application(middlewares=middlewares, client_max_size=client_max_size)
        routes = app.router
        for prefix in API_PREFIXES:
            account = prefix + "/Accounts/{account}"
            conferences = account + "/Conferences"
            calls = account + "/Calls"
            for ext in (".json", ""):  # ".json" first: "{sid}" would swallow it
                routes.add_get(
                    conferences + ext, self.list_conferences, allow_head=False
                )
                routes.add_post(
                    conferences + "/{conference}/Streams" + ext, self.create_stream
                )
                routes.add_post(
                    conferences + "/{conference}/Streams/{sid}" + ext, self.stop_stream
                )
                routes.add_get(calls + ext, self.list_calls, allow_head=False)
                routes.add_post(
                    calls + "/{call}/Streams" + ext, self.create_call_stream
                )
                routes.add_post(
                    calls + "/{call}/Streams/{sid}" + ext, self.stop_call_stream
                )
        return app

    # -- handlers -----------------------------------------------------------

    async def list_conferences(self, request: web.Request) -> web.Response:
        """Twilio-style page of the conferences in progress (for scenarios to find them)."""
        refused = self._check(request, None)
        if refused is not None:
            return refused
        bodies = [self._conference_body(c) for c in self._registry.conferences]
        return _json(200, self._page("Conferences", "conferences", bodies))

    async def list_calls(self, request: web.Request) -> web.Response:
        """Twilio-style page of the calls in progress (for call streams, contract §2.2)."""
        refused = self._check(request, None)
        if refused is not None:
            return refused
        bodies = [self._call_body(c) for c in self._registry.calls]
        return _json(200, self._page("Calls", "calls", bodies))

    async def create_stream(self, request: web.Request) -> web.Response:
        """``create_conference_stream`` (contract §1)."""
        return await self._create(request, "conference")

    async def create_call_stream(self, request: web.Request) -> web.Response:
        """``create_stream`` on a call (contract §2.2: no StreamCodec, no StreamRealTime)."""
        return await self._create(request, "call")

    async def stop_stream(self, request: web.Request) -> web.Response:
        """``update_conference_stream`` with ``Status=stopped``, by sid or name (contract §2.1)."""
        return await self._stop(request, "conference")

    async def stop_call_stream(self, request: web.Request) -> web.Response:
        """``update_stream`` on a call: stop by sid or name (contract §2.2)."""
        return await self._stop(request, "call")

    # -- the shared steps ---------------------------------------------------

    async def _create(self, request: web.Request, kind: StreamKind) -> web.Response:
        failed = self._api_error("create", "")
        if failed is not None:
            return failed
        refused = self._check(request, kind)
        if refused is not None:
            return refused
        call = kind == "call"
        fields = await _fields(request)
        if isinstance(fields, list):
            return _field_errors(fields, call=call)
        url = fields.get("Url", "")
        lenient = "accept-ws-url" in self._defects and url[:5].lower() == "ws://"
        if lenient:  # the defect: validate as if it were wss://, then dial ws://
            fields = {**fields, "Url": "wss://" + url[5:]}
        parsed = parse_start(fields, conference=not call)
        if isinstance(parsed, list):
            return _field_errors(parsed, call=call)
        if lenient:
            parsed = dataclasses.replace(parsed, url=url)
        # never an open relay: Url and StatusCallback only where it may dial
        refused_dial = [
            e
            for e in (
                self._dial.check("Url", parsed.url),
                self._dial.check("StatusCallback", parsed.status_callback),
            )
            if e is not None
        ]
        if refused_dial:
            return _field_errors(refused_dial, call=call)
        if call and self._twilio and parsed.track is None:
            # contract §2.3: Twilio's call streams default to inbound_track.
            parsed = dataclasses.replace(parsed, track="inbound_track")
        created = self._supervisor.create(self._parent(request, kind), parsed, kind)
        if isinstance(created, FieldError):
            return _field_errors([created], call=call)
        return self._answer(self._body(created, created=True))

    async def _stop(self, request: web.Request, kind: StreamKind) -> web.Response:
        key = request.match_info["sid"]
        failed = self._api_error("stop", key)
        if failed is not None:
            return failed
        refused = self._check(request, kind)
        if refused is not None:
            return refused
        fields = await _fields(request)
        call = kind == "call"
        if isinstance(fields, list):
            return _field_errors(fields, call=call)
        bad = parse_stop(fields)
        if bad is not None:
            return _field_errors([bad], call=call)
        stream = self._find(self._parent(request, kind), key)
        if stream is None:
            return _not_found(request.path)
        self._supervisor.stop(stream)
        return self._answer(self._body(stream))

    def _find(self, parent: str, key: str) -> Stream | None:
        stream = self._registry.find(parent, key)
        if stream is None and "sid-not-uuid" in self._defects:
            try:  # the defect answered 32 hex digits: take them back
                stream = self._registry.find(parent, str(uuid.UUID(hex=key)))
            except ValueError:
                pass
        return stream

    def _answer(self, body: dict[str, object]) -> web.Response:
        """A stream's 200 answer (``content-type-text``: the right JSON, the wrong type)."""
        if "content-type-text" in self._defects:
            return web.Response(
                text=json.dumps(body), status=200, content_type="text/plain"
            )
        return _json(200, body)

    def _body(self, stream: Stream, *, created: bool = False) -> dict[str, object]:
        return stream_body(
            stream,
            self._account,
            self._prefix,
            self._defects,
            created=created,
            nullable_call_name=self._twilio,
        )

    @staticmethod
    def _parent(request: web.Request, kind: StreamKind) -> str:
        return request.match_info["conference" if kind == "conference" else "call"]

    def _api_error(self, op: str, key: str) -> web.Response | None:
        """``--fault api-error``: answer this request with a 500 or a 503, at the set rate."""
        rate = self._faults.api_error
        if not rate or self._rng.random() >= rate:
            return None
        status, code, message = self._rng.choice(_API_ERRORS)
        self._supervisor.sink.add(
            "impairments",
            (key, "", 0, "api-error", 0, time.monotonic_ns(), f"{status} {op}"),
        )
        return _json(status, error_body(status, code, message))

    @web.middleware
    async def _latency(
        self, request: web.Request, handler: _Handler
    ) -> web.StreamResponse:
        """``--fault api-latency``: every answer that much later."""
        await asyncio.sleep(self._faults.api_latency_ns / 1e9)
        return await handler(request)

    def _check(
        self, request: web.Request, kind: StreamKind | None
    ) -> web.Response | None:
        """Authenticate first, then 404 for a foreign account or an unknown conference or call."""
        if not self._authorized(request.headers.get("Authorization")):
            body = error_body(401, 20003, "Authentication failed")
            return _json(401, body, headers={"WWW-Authenticate": _REALM})
        if request.match_info["account"] != self._account:
            return _not_found(request.path)
        if kind == "conference":
            if self._registry.conference(request.match_info["conference"]) is None:
                return _not_found(request.path)
        elif kind == "call" and self._registry.call(request.match_info["call"]) is None:
            return _not_found(request.path)
        return None

    def _authorized(self, header: str | None) -> bool:
        # contract §1: Basic auth, username = AccountSid (project id), password = API token.
        credentials = _basic_credentials(header)
        if credentials is None:
            return False
        user_ok = Secret(self._account).matches(credentials[0])
        token_ok = self._token.matches(credentials[1])
        return user_ok and token_ok

    def _page(
        self, path: str, key: str, items: list[dict[str, object]]
    ) -> dict[str, object]:
        page_uri = (
            f"{self._prefix}/Accounts/{self._account}/{path}.json?PageSize=50&Page=0"
        )
        return {
            key: items,
            "page": 0,
            "page_size": 50,
            "start": 0,
            "end": max(len(items) - 1, 0),
            "uri": page_uri,
            "first_page_uri": page_uri,
            "next_page_uri": None,
            "previous_page_uri": None,
        }

    def _conference_body(self, conference: Conference) -> dict[str, object]:
        created = rfc2822(conference.created_s)
        return {
            "sid": conference.sid,
            "account_sid": self._account,
            "friendly_name": conference.friendly_name,
            "status": "in-progress",
            "date_created": created,
            "date_updated": created,
            "uri": f"{self._prefix}/Accounts/{self._account}/Conferences/{conference.sid}.json",
        }

    def _call_body(self, call: Call) -> dict[str, object]:
        created = rfc2822(call.created_s)
        return {
            "sid": call.sid,
            "account_sid": self._account,
            "from": call.from_number,
            "to": call.to_number,
            "direction": "inbound",
            "status": "in-progress",
            "date_created": created,
            "date_updated": created,
            "uri": f"{self._prefix}/Accounts/{self._account}/Calls/{call.sid}.json",
        }
