"""The REST API of the reference platform: conference streams over HTTPS (api.md §1-2).

Routes exist under both prefixes (``/api/laml/2010-04-01`` documented,
``/2010-04-01`` Twilio-style) and with and without ``.json`` (api.md §1
"Which path and body variants"). Request validation is the core's
(:func:`harness.api.parse_start`); this module maps its errors to the two
documented bodies: a ``CompatibilityErrorResponse`` for 400/401/404 and
``{"errors": [...]}`` for 422 (api.md §1.3). Every failure is a 4xx with a JSON
body naming the field: no request can produce a 5xx.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Final

from aiohttp import web

from harness.api import API_PREFIXES, FieldError, parse_start, parse_stop, rfc2822
from harness.platform.state import Conference, Stream
from harness.platform.supervisor import Supervisor
from harness.secret import Secret


__all__ = ["MORE_INFO", "Api", "error_body", "stream_body"]

log = logging.getLogger(__name__)

MORE_INFO: Final = "https://signalwire.com/docs/compatibility-api/reference/errors"
_REALM: Final = 'Basic realm="SignalWire Compatibility API"'
_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def error_body(status: int, code: int, message: str) -> dict[str, object]:
    """A ``CompatibilityErrorResponse`` (api.md §1.3)."""
    return {"code": code, "message": message, "more_info": MORE_INFO, "status": status}


def stream_body(stream: Stream, account_sid: str, uri_prefix: str) -> dict[str, object]:
    """A ``ConferenceStreamResponse``: exactly its seven fields (api.md §1.2)."""
    return {
        "account_sid": account_sid,
        "conference_sid": stream.conference_sid,
        "date_updated": rfc2822(stream.updated_s),
        "name": stream.name,
        "sid": stream.sid,
        "status": stream.status,
        "uri": (
            f"{uri_prefix}/Accounts/{account_sid}/Conferences/"
            f"{stream.conference_sid}/Streams/{stream.sid}.json"
        ),
    }


def _json(
    status: int, body: object, headers: dict[str, str] | None = None
) -> web.Response:
    return web.json_response(body, status=status, headers=headers)


def _field_errors(errors: Iterable[FieldError]) -> web.Response:
    errors = list(errors)
    # api.md §1.3/§9.2: a documented code (31922 bad WebSocket URL) goes in a 400
    # CompatibilityErrorResponse; plain validation failures in a 422 errors list.
    coded = next((e for e in errors if e.status == 400), None)
    if coded is not None:
        message = f"{coded.field}: {coded.message}"
        return _json(400, error_body(400, coded.code or 400, message))
    return _json(422, {"errors": [f"{e.field}: {e.message}" for e in errors]})


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
    """Read the body as form fields; JSON objects are accepted too (api.md §1, §10)."""
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


@web.middleware
async def _json_errors(request: web.Request, handler: _Handler) -> web.StreamResponse:
    """Turn every error, ours or aiohttp's, into a JSON 4xx (api.md §1.3)."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        if exc.status == 404:
            return _not_found(request.path)
        status = exc.status if exc.status < 500 else 400
        code = 20004 if status == 405 else status  # Twilio's "Method not allowed"
        return _json(status, error_body(status, code, exc.reason))
    except Exception:
        log.exception("request %s %s failed", request.method, request.path)
        return _json(400, error_body(400, 400, "The request could not be processed"))


class Api:
    """The HTTP handlers, bound to one platform's account, token and streams."""

    def __init__(self, supervisor: Supervisor, token: Secret) -> None:
        self._supervisor = supervisor
        self._registry = supervisor.registry
        self._token = token
        self._account = supervisor.account_sid
        self._prefix = supervisor.dialect.uri_prefix

    def app(self, *, client_max_size: int = 1024**2) -> web.Application:
        """Build the aiohttp application with every route variant."""
        app = web.Application(
            middlewares=[_json_errors], client_max_size=client_max_size
        )
        routes = app.router
        for prefix in API_PREFIXES:
            base = prefix + "/Accounts/{account}/Conferences"
            for ext in (".json", ""):  # ".json" first: "{sid}" would swallow it
                routes.add_get(base + ext, self.list_conferences, allow_head=False)
                routes.add_post(
                    base + "/{conference}/Streams" + ext, self.create_stream
                )
                routes.add_post(
                    base + "/{conference}/Streams/{sid}" + ext, self.stop_stream
                )
        return app

    # -- handlers -----------------------------------------------------------

    async def list_conferences(self, request: web.Request) -> web.Response:
        """Twilio-style page of the conferences in progress (for scenarios to find them)."""
        refused = self._check(request, conference=False)
        if refused is not None:
            return refused
        conferences = self._registry.conferences
        base = f"{self._prefix}/Accounts/{self._account}/Conferences"
        page_uri = f"{base}.json?PageSize=50&Page=0"
        return _json(
            200,
            {
                "conferences": [self._conference_body(c) for c in conferences],
                "page": 0,
                "page_size": 50,
                "start": 0,
                "end": max(len(conferences) - 1, 0),
                "uri": page_uri,
                "first_page_uri": page_uri,
                "next_page_uri": None,
                "previous_page_uri": None,
            },
        )

    async def create_stream(self, request: web.Request) -> web.Response:
        """``create_conference_stream`` (api.md §1)."""
        refused = self._check(request)
        if refused is not None:
            return refused
        fields = await _fields(request)
        if isinstance(fields, list):
            return _field_errors(fields)
        parsed = parse_start(fields)
        if isinstance(parsed, list):
            return _field_errors(parsed)
        created = self._supervisor.create(request.match_info["conference"], parsed)
        if isinstance(created, FieldError):
            return _field_errors([created])
        return _json(200, stream_body(created, self._account, self._prefix))

    async def stop_stream(self, request: web.Request) -> web.Response:
        """``update_conference_stream`` with ``Status=stopped``, by sid or name (api.md §2.1)."""
        refused = self._check(request)
        if refused is not None:
            return refused
        fields = await _fields(request)
        if isinstance(fields, list):
            return _field_errors(fields)
        bad = parse_stop(fields)
        if bad is not None:
            return _field_errors([bad])
        stream = self._registry.find(
            request.match_info["conference"], request.match_info["sid"]
        )
        if stream is None:
            return _not_found(request.path)
        self._supervisor.stop(stream)
        return _json(200, stream_body(stream, self._account, self._prefix))

    # -- helpers ------------------------------------------------------------

    def _check(
        self, request: web.Request, *, conference: bool = True
    ) -> web.Response | None:
        """Authenticate first, then 404 for a foreign account or an unknown conference."""
        if not self._authorized(request.headers.get("Authorization")):
            body = error_body(401, 20003, "Authentication failed")
            return _json(401, body, headers={"WWW-Authenticate": _REALM})
        if request.match_info["account"] != self._account:
            return _not_found(request.path)
        if (
            conference
            and self._registry.conference(request.match_info["conference"]) is None
        ):
            return _not_found(request.path)
        return None

    def _authorized(self, header: str | None) -> bool:
        # api.md §1: Basic auth, username = AccountSid (project id), password = API token.
        credentials = _basic_credentials(header)
        if credentials is None:
            return False
        user_ok = Secret(self._account).matches(credentials[0])
        token_ok = self._token.matches(credentials[1])
        return user_ok and token_ok

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
