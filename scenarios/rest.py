"""A user's POSTs to the platform straight through geventhttpclient, reported to Locust.

``FastHttpSession.post(..., catch_response=True)`` wraps every request in
three layers a start does not use: geventhttpclient's ``UserAgent`` (a cookie
jar read and written, the URL parsed, a request object, the redirect loop),
Locust's session (header dicts merged and copied, the user's context) and the
``ResponseContextManager`` (the response's attributes copied, the event fired
on exit). In ``scripts/bench_locust.py`` they cost a start ~20 % of what the
bare user's whole request costs (docs/performance.md "Locust: where
StreamUser's extra CPU went"). :class:`RestPoster` keeps what matters: the
user's own ``HTTPClient`` from the session's pool (its connections, keep-alive,
TLS context, certificate checks and timeouts), the body decoding of
``FastResponse``, and one ``request`` event per request with the fields
``FastHttpSession`` gives it, so Locust's statistics, failures and web UI are
as before: Locust documents firing the event for custom clients
(https://docs.locust.io/en/stable/testing-other-systems.html).

A failed request's event carries ``CatchResponseError(message)``, as
``response.failure(message)`` gave it. What is left out: cookies (the REST
API sets none and reads none) and redirects (a start or stop answered with a
3xx is a failure, as contract §1.2/§2.1 want 200).
"""

from __future__ import annotations

import time

import gevent
from geventhttpclient.url import URL
from geventhttpclient.useragent import RetriesExceeded
from locust.contrib.fasthttp import (
    FAILURE_EXCEPTIONS,
    FastHttpUser,
    FastResponse,
    LocustBadStatusCode,
)
from locust.exception import CatchResponseError


__all__ = ["Reply", "RestPoster"]

_ACCEPT_ENCODING = "gzip, deflate, br"
"""What ``FastHttpSession`` adds to every request: the wire stays the same."""


class Reply:
    """One answer (or the lack of one), as the checks read it.

    ``status`` is 0 and ``error`` the exception when nothing usable came back.
    """

    __slots__ = (
        "content",
        "error",
        "name",
        "path",
        "response",
        "response_time_ms",
        "start_time",
        "status",
    )

    def __init__(self, name: str, path: str, start_time: float) -> None:
        self.name = name
        self.path = path
        self.start_time = start_time
        self.status = 0
        self.content = b""
        self.error: BaseException | None = None
        self.response: FastResponse | None = None
        self.response_time_ms = 0.0

    @property
    def content_type(self) -> str:
        """The Content-Type header (``""``: none), for REST-CREATE-008."""
        headers = self.response.headers if self.response is not None else None
        value = headers.get("Content-Type") if headers is not None else None
        return str(value) if value else ""

    def error_text(self) -> str:
        """A short, secret-free description of a failed answer."""
        if not self.status:
            kind = type(self.error).__name__ if self.error else "connection failed"
            return f"no answer: {kind}"
        text = self.response.text if self.response is not None else ""
        return f"HTTP {self.status}: {(text or '')[:200]}"


class RestPoster:
    """POST forms for one :class:`~locust.contrib.fasthttp.FastHttpUser`.

    Made in ``on_start`` (the session exists then); ``headers`` go on every
    request, after the session's default headers.
    """

    def __init__(self, user: FastHttpUser, headers: dict[str, str]) -> None:
        session = user.client
        agent = session.client
        self._user = user
        self._agent = agent
        self._event = user.environment.events.request
        self._base = str(session.base_url)
        url = URL(self._base)
        self._prefix = url.path.rstrip("/") if url.path != "/" else ""
        self._client = agent.clientpool.get_client(url)
        merged: dict[str, str] = {k: v for k, v in agent.default_headers.items()}
        merged.update(headers)
        merged.setdefault("Accept-Encoding", _ACCEPT_ENCODING)
        if session.auth_header:  # credentials in --host win, as in the session
            merged["Authorization"] = session.auth_header
        self._headers = merged

    def post(self, path: str, body: str, name: str) -> Reply:
        """Send one form and read the whole answer; report nothing yet (:meth:`report`)."""
        reply = Reply(name, path, time.time())
        started = time.perf_counter()
        try:
            raw = self._client.request(
                "POST",
                self._prefix + path,
                body=body.encode(),
                headers=self._headers,
            )
            response = FastResponse(raw)
            reply.response = response
            reply.status = response.status_code
            reply.content = response.content or b""
        except gevent.GreenletExit:
            raise
        except BaseException as exc:  # noqa: BLE001 -- mapped as the session maps them
            reply.status = 0
            reply.error = self._failure(exc, self._base + path)
        reply.response_time_ms = (time.perf_counter() - started) * 1000
        return reply

    def _failure(self, exc: BaseException, url: str) -> BaseException:
        """``exc`` as FastHttpSession would have seen it, or re-raised as it would.

        ``UserAgent`` turns errors it may retry into ``RetriesExceeded`` (a
        POST is never retried) and re-raises the rest; the session answers
        the ones in ``FAILURE_EXCEPTIONS`` with a status-0 response.
        """
        try:
            retryable = self._agent._handle_error(exc, url=url)
            error: BaseException = RetriesExceeded(
                url, self._agent.max_retries, original=retryable
            )
        except BaseException as raised:  # noqa: BLE001 -- the agent re-raises non-retryable ones
            error = raised
        if not isinstance(error, FAILURE_EXCEPTIONS):
            raise error
        return error

    def report(self, reply: Reply, failure: str | None) -> None:
        """Fire Locust's ``request`` event: a success, or a failure with ``failure``.

        The fields are those ``FastHttpSession.request`` fires; a failure's
        exception is the ``CatchResponseError`` ``response.failure`` made.
        """
        url = self._base + reply.path
        exception: BaseException | None = None
        if failure is not None:
            exception = CatchResponseError(failure)
        elif reply.status and reply.status not in self._agent.valid_response_codes:
            exception = LocustBadStatusCode(url, code=reply.status)
        self._event.fire(
            request_type="POST",
            name=reply.name,
            context=self._user.context(),
            response=reply.response,
            exception=exception,
            start_time=reply.start_time,
            url=url,
            response_length=len(reply.content),
            response_time=reply.response_time_ms,
        )
