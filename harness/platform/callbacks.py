"""Status callbacks: tell the customer's ``StatusCallback`` URL a stream started, stopped or failed.

contract §4: a form ``POST`` (or a ``GET`` with the same parameters in the query,
per ``StatusCallbackMethod``) carrying ``AccountSid``, ``CallSid``,
``ConferenceSid``, ``StreamSid``, ``StreamName`` (the sid when unnamed),
``StreamEvent``, ``StreamError`` (only on ``stream-error``), ``StreamTrack`` and
``Timestamp``. With a signing key each request carries Twilio's signature,
HMAC-SHA1 over the URL plus the sorted POST keys and values, base64
(contract §4 "Signing"). Delivery is best effort: a failure is logged and never
touches the stream. One stream's callbacks go out in order. Call streams
(contract §2.2) carry no ``ConferenceSid``.

Two ``--defect`` switches live here: ``callback-unsigned`` drops the signature
header, ``callback-order`` holds ``stream-started`` back until the stream's
next event has been sent.
"""

from __future__ import annotations

import asyncio
import datetime
import functools
import logging
import ssl
from collections.abc import Mapping

import aiohttp
from yarl import URL

from harness.core.callbacks import signature
from harness.core.secret import Secret
from harness.platform.core.state import Stream


__all__ = ["Callbacks", "callback_params"]

log = logging.getLogger(__name__)


def callback_params(
    stream: Stream,
    *,
    account_sid: str,
    event: str,
    error: str | None,
    now: datetime.datetime,
) -> dict[str, str]:
    """The parameters of one status callback (contract §4 table)."""
    params = {
        "AccountSid": account_sid,
        "CallSid": stream.call_sid,
        "StreamSid": stream.sid,
        "StreamName": stream.name or stream.sid,
        "StreamEvent": event,
        "StreamTrack": stream.request.effective_track,
        "Timestamp": now.isoformat(timespec="milliseconds"),
    }
    if stream.kind == "conference":
        params["ConferenceSid"] = stream.conference_sid
    if error is not None:
        params["StreamError"] = error
    return params


class Callbacks:
    """Deliver status callbacks over one HTTP client session."""

    def __init__(
        self,
        *,
        account_sid: str,
        ssl_context: ssl.SSLContext,
        signature_header: str,
        signing_key: Secret | None = None,
        timeout_s: float = 5.0,
        defects: frozenset[str] = frozenset(),
    ) -> None:
        self._account_sid = account_sid
        self._ssl = ssl_context
        self._header = signature_header
        self._key = signing_key
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None
        self._pending: set[asyncio.Task[None]] = set()
        self._last: dict[str, asyncio.Task[None]] = {}
        self._unsigned = "callback-unsigned" in defects
        self._out_of_order = "callback-order" in defects
        self._held: dict[str, dict[str, str]] = {}
        self.delivered = 0
        self.failed = 0

    def notify(self, stream: Stream, event: str, error: str | None = None) -> None:
        """Queue one callback for ``stream`` after its earlier ones; returns at once."""
        url = stream.request.status_callback
        if url is None:
            return
        params = callback_params(
            stream,
            account_sid=self._account_sid,
            event=event,
            error=error,
            now=datetime.datetime.now(datetime.UTC),
        )
        if self._out_of_order and event == "stream-started":
            self._held[stream.sid] = params
            return
        self._queue(url, stream, params)
        held = self._held.pop(stream.sid, None)
        if held is not None:
            self._queue(url, stream, held)

    def _queue(self, url: str, stream: Stream, params: dict[str, str]) -> None:
        before = self._last.get(stream.sid)
        task = asyncio.create_task(self._deliver(url, stream, params, before))
        self._pending.add(task)
        self._last[stream.sid] = task
        task.add_done_callback(functools.partial(self._done, stream.sid))

    async def close(self, timeout_s: float = 5.0) -> None:
        """Wait up to ``timeout_s`` for callbacks in flight, then drop the rest."""
        if self._pending:
            _, late = await asyncio.wait(set(self._pending), timeout=timeout_s)
            for task in late:
                task.cancel()
            if late:
                await asyncio.wait(late)
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _done(self, sid: str, task: asyncio.Task[None]) -> None:
        self._pending.discard(task)
        if self._last.get(sid) is task:
            del self._last[sid]

    async def _deliver(
        self,
        url: str,
        stream: Stream,
        params: dict[str, str],
        before: asyncio.Task[None] | None,
    ) -> None:
        if before is not None:
            await asyncio.wait({before})
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        method = stream.request.status_callback_method or "POST"
        try:
            if method == "GET":
                target = str(URL(url).update_query(params))
                headers = self._signed(target, None)
                response = self._session.get(target, headers=headers, ssl=self._ssl)
            else:
                headers = self._signed(url, params)
                response = self._session.post(
                    url, data=params, headers=headers, ssl=self._ssl
                )
            async with response as answer:
                await answer.read()
                if answer.status >= 400:
                    raise RuntimeError(f"HTTP {answer.status}")
            self.delivered += 1
        except (
            aiohttp.ClientError,
            TimeoutError,
            OSError,
            RuntimeError,
            ValueError,
        ) as exc:
            self.failed += 1
            log.warning(
                "stream %s: status callback %s not delivered: %s: %s",
                stream.sid,
                params["StreamEvent"],
                type(exc).__name__,
                exc,
            )

    def _signed(self, url: str, params: Mapping[str, str] | None) -> dict[str, str]:
        if self._key is None or self._unsigned:
            return {}
        # a GET carries its parameters in the URL: only a POST's are signed apart
        signed = list(params.items()) if params else []
        return {self._header: signature(self._key, url, signed)}
