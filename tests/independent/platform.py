"""The second platform's network edges: the REST API (aiohttp), the wss streams
(websockets' client) and the status callbacks (aiohttp's client).

One asyncio task per stream dials the ``Url`` of the create request, sends
``connected`` and ``start``, then one ``media`` per track every 20 ms against
an absolute schedule (a late frame goes out at once; the next keeps its slot),
then ``stop``. Callbacks of one stream go out one after the other, in order.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import datetime
import hmac
import json
import re
import ssl
import sys
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlencode

import aiohttp
import yarl
from aiohttp import web
from websockets.asyncio.client import ClientConnection, connect

from tests.independent import contract as c


_PATH = re.compile(
    r"^(?:/api/laml)?/2010-04-01/Accounts/(?P<account>[^/]+)"
    r"(?:/Conferences(?:/(?P<conference>[^/]+?)(?:/Streams(?:/(?P<stream>[^/]+?))?)?)?)?"
    r"(?P<json>\.json)?$"
)
_STREAMS_SUFFIX = re.compile(r"/Streams(?:/[^/]+)?(?:\.json)?$")


_ANY_REQUEST: Final = c.CreateRequest(
    url="wss://any/",
    name=None,
    track="both_tracks",
    codec=c.CODECS["PCMU"],
    status_callback=None,
    status_callback_method="POST",
    real_time=None,
    parameters=(),
    bearer=None,
)
"""A request with nothing optional: the defects it is eligible for need nothing."""


def log(text: str) -> None:
    print(f"independent-platform: {text}", file=sys.stderr, flush=True)


@dataclasses.dataclass(slots=True)
class Stream:
    sid: str
    conference_sid: str
    call_sid: str
    request: c.CreateRequest
    defects: frozenset[str] = frozenset()
    """The defects this stream shows (all per-stream ones, or one with ``spread``)."""
    status: str = "queued"
    updated: datetime.datetime = dataclasses.field(
        default_factory=lambda: datetime.datetime.now(datetime.UTC)
    )
    stop: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None
    callbacks: asyncio.Task[None] | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Conference:
    sid: str
    name: str
    status: str
    created: datetime.datetime


class Platform:
    """The HTTP API and every stream of one account."""

    def __init__(
        self,
        *,
        account_sid: str,
        api_token: str,
        conferences: int,
        defects: frozenset[str],
        ssl_context: ssl.SSLContext,
        signing_key: str,
        max_stream_s: float,
        spread: bool = False,
        assignments: Path | None = None,
    ) -> None:
        self.account_sid = account_sid
        self._token = api_token
        self.defects = defects
        self._per_stream = [
            d for d in c.DEFECTS if d in defects and d not in c.GLOBAL_DEFECTS
        ]
        self._spread = spread
        self._given = dict.fromkeys(self._per_stream, 0)
        self._assignments = assignments.open("a") if assignments is not None else None
        self._ssl = ssl_context
        self._signing_key = signing_key
        self._max_stream_s = max_stream_s
        now = datetime.datetime.now(datetime.UTC)
        self.conferences = {
            conf.sid: conf
            for conf in [
                Conference(c.new_sid(), f"independent-{i}", "in-progress", now)
                for i in range(conferences)
            ]
            # one ended conference: a list filter must drop it, a create gets 21220
            + [Conference(c.new_sid(), "independent-ended", "completed", now)]
        }
        self.streams: dict[str, Stream] = {}
        self._frames = {name: c.frames(codec) for name, codec in c.CODECS.items()}
        self._session: aiohttp.ClientSession | None = None
        self.created = 0
        self.callbacks_failed = 0

    # --- HTTP API ---

    def app(self) -> web.Application:
        app = web.Application(client_max_size=4 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self.handle)
        return app

    async def handle(self, request: web.Request) -> web.StreamResponse:
        try:
            return await self._route(request)
        except c.Refusal as refusal:
            body = refusal.body
            if refusal.status == 404 and "error-shape-404" in self.defects:
                body = {"message": "Not found", "status": 404}
            return web.json_response(body, status=refusal.status)

    def _not_found(self, what: str) -> c.Refusal:
        return c.compat_error(404, 20404, f"The requested {what} was not found")

    def _authenticate(self, request: web.Request) -> None:
        header = request.headers.get("Authorization", "")
        scheme, _, encoded = header.partition(" ")
        user = password = ""
        if scheme.lower() == "basic":
            try:
                user, _, password = (
                    base64.b64decode(encoded, validate=True).decode().partition(":")
                )
            except ValueError:
                pass
        good = hmac.compare_digest(user.encode(), self.account_sid.encode()) and (
            hmac.compare_digest(password.encode(), self._token.encode())
        )
        if not good:
            raise c.compat_error(401, 20003, "Authentication failed")

    async def _route(self, request: web.Request) -> web.StreamResponse:
        self._authenticate(request)  # before anything is looked up
        match = _PATH.match(request.path)
        if match is None or match["account"] != self.account_sid:
            raise self._not_found("resource")
        conference, stream = match["conference"], match["stream"]
        is_streams = bool(_STREAMS_SUFFIX.search(request.path))
        if request.method == "GET" and conference is None and not is_streams:
            return self._list(request)
        if conference is None or conference not in self.conferences:
            raise self._not_found("conference")
        if request.method == "GET" and not is_streams:
            return web.json_response(self._conference_doc(self.conferences[conference]))
        if request.method != "POST" or not is_streams:
            raise self._not_found("resource")
        form = await self._form(request)
        if stream is None:
            return self._create(self.conferences[conference], form)
        return self._update(conference, stream, form)

    async def _form(self, request: web.Request) -> list[tuple[str, str]]:
        if request.content_type == "application/json":
            try:
                doc: Any = await request.json()
            except ValueError:
                raise c.validation_error("the JSON body does not parse") from None
            if not isinstance(doc, dict):
                raise c.validation_error("the JSON body is not an object")
            return [(str(k), _text(v)) for k, v in doc.items()]
        data = await request.post()
        return [(k, v) for k, v in data.items() if isinstance(v, str)]

    def _conference_doc(self, conf: Conference) -> dict[str, object]:
        return {
            "account_sid": self.account_sid,
            "api_version": "2010-04-01",
            "date_created": c.rfc2822(conf.created),
            "date_updated": c.rfc2822(conf.created),
            "friendly_name": conf.name,
            "region": "us1",
            "sid": conf.sid,
            "status": conf.status,
            "uri": f"/api/laml/2010-04-01/Accounts/{self.account_sid}/Conferences/{conf.sid}.json",
        }

    def _list(self, request: web.Request) -> web.StreamResponse:
        wanted = request.query.get("Status")
        docs = [
            self._conference_doc(conf)
            for conf in self.conferences.values()
            if wanted is None or conf.status == wanted
        ]
        uri = f"/api/laml/2010-04-01/Accounts/{self.account_sid}/Conferences.json"
        return web.json_response(
            {
                "conferences": docs,
                "first_page_uri": uri + "?Page=0&PageSize=50",
                "next_page_uri": None,
                "previous_page_uri": None,
                "page": 0,
                "page_size": 50,
                "start": 0,
                "end": max(len(docs) - 1, 0),
                "uri": uri,
            }
        )

    def _document(self, stream: Stream) -> dict[str, object]:
        return c.stream_document(
            account_sid=self.account_sid,
            conference_sid=stream.conference_sid,
            sid=stream.sid,
            name=stream.request.name,
            status=stream.status,
            updated=stream.updated,
            defects=stream.defects,
        )

    def _create(
        self, conf: Conference, form: Sequence[tuple[str, str]]
    ) -> web.StreamResponse:
        request = c.parse_create(form, allow_ws="accept-ws-url" in self.defects)
        if conf.status != "in-progress":
            raise c.compat_error(
                400,
                21220,
                "A stream cannot be started for a conference in the current state",
            )
        if request.name is not None and any(
            s.conference_sid == conf.sid
            and s.request.name == request.name
            and s.status != "stopped"
            for s in self.streams.values()
        ):
            raise c.validation_error("Duplicated stream name")
        stream = Stream(
            c.new_sid(), conf.sid, c.new_sid(), request, self._assign(request)
        )
        self.streams[stream.sid] = stream
        if self._assignments is not None:
            last = request.parameters[-1] if request.parameters else None
            self._assignments.write(
                json.dumps(
                    {
                        "sid": stream.sid,
                        "conference": conf.sid,
                        "defects": sorted(stream.defects),
                        "last_parameter": last,
                    }
                )
                + "\n"
            )
            self._assignments.flush()
        self.created += 1
        stream.task = asyncio.get_running_loop().create_task(self._run(stream))
        status = 201 if "create-201" in stream.defects else 200
        return _json(self._document(stream), stream, status)

    def _assign(self, request: c.CreateRequest) -> frozenset[str]:
        """This stream's defects: every per-stream one, or (``spread``) the eligible one given least."""
        if not self._spread:
            return frozenset(d for d in self._per_stream if c.eligible(d, request))
        candidates = [d for d in self._per_stream if c.eligible(d, request)]
        if not candidates:
            return frozenset()
        # ties go to a defect few streams can show (no Name, one track, ...)
        chosen = min(
            candidates, key=lambda d: (self._given[d], c.eligible(d, _ANY_REQUEST))
        )
        self._given[chosen] += 1
        return frozenset({chosen})

    def _update(
        self, conference: str, target: str, form: Sequence[tuple[str, str]]
    ) -> web.StreamResponse:
        stream = self.streams.get(target)
        if stream is None or stream.conference_sid != conference:
            named = [
                s
                for s in self.streams.values()
                if s.conference_sid == conference and s.request.name == target
            ]
            live = [s for s in named if s.status != "stopped"]
            candidates = live or named
            stream = candidates[-1] if candidates else None
            if stream is not None and "stop-by-name-404" in stream.defects:
                stream = None  # the defect: only sids are looked up
        if stream is None:
            raise self._not_found("stream")
        status = dict(form).get("Status")
        if status != "stopped":
            raise c.validation_error("Status must be 'stopped'")
        if stream.status != "stopped":
            stream.status = "stopped"
            stream.updated = datetime.datetime.now(datetime.UTC)
        stream.stop.set()
        doc = self._document(stream)
        if "stop-status-in-progress" in stream.defects:
            doc["status"] = "in-progress"
        return _json(doc, stream)

    # --- streams ---

    async def _run(self, stream: Stream) -> None:
        request = stream.request
        headers = {}
        if request.bearer and "bearer-missing" not in stream.defects:
            headers["Authorization"] = f"Bearer {request.bearer}"
        secure = request.url.lower().startswith("wss://")
        try:
            ws = await connect(
                request.url,
                ssl=self._ssl if secure else None,
                additional_headers=headers,
                open_timeout=10,
                close_timeout=2,
                compression=None,
                max_size=2**22,
            )
        except (OSError, TimeoutError, Exception) as exc:
            log(f"stream {stream.sid}: dial failed: {type(exc).__name__}: {exc}")
            stream.status = "stopped"
            self._callback(
                stream, "stream-error", "connection_refused_timeout_or_ssl_error"
            )
            return
        drain = asyncio.get_running_loop().create_task(_drain(ws))
        try:
            await self._stream(ws, stream)
        except Exception as exc:
            log(f"stream {stream.sid}: ended early: {type(exc).__name__}: {exc}")
            if stream.status != "stopped":
                stream.status = "stopped"
                self._callback(stream, "stream-error", "general_error")
                return
        finally:
            drain.cancel()
            try:
                await ws.close()
            except Exception:
                pass
        stream.status = "stopped"
        self._callback(stream, "stream-stopped")

    async def _stream(self, ws: ClientConnection, stream: Stream) -> None:
        request, defects = stream.request, stream.defects
        if "connected-missing" not in defects:
            await ws.send(c.connected_message())
        seq = 1
        start = c.start_message(
            seq=seq,
            stream_sid=c.new_sid() if "start-sid-other" in defects else stream.sid,
            account_sid=c.new_sid()
            if "start-account-other" in defects
            else self.account_sid,
            call_sid="CA" + uuid.uuid4().hex
            if "callsid-not-uuid" in defects
            else stream.call_sid,
            request=request,
            defects=defects,
        )
        await ws.send(start)
        if stream.status == "queued":
            stream.status = "in-progress"
        self._callback(stream, "stream-started")
        frames = self._frames[request.codec.name]
        if "payload-half" in defects:
            frames = [
                base64.b64encode(
                    base64.b64decode(f)[: len(base64.b64decode(f)) // 2]
                ).decode()
                for f in frames
            ]
        tracks = c.TRACKS[request.track]
        media_tracks = tracks[:1] if "one-track-of-two" in defects else tracks
        other_sid = c.new_sid() if "media-sid-other" in defects else None
        step_ms = 30 if "timestamp-fast" in defects else c.FRAME_MS
        first_chunk = 0 if "chunk-zero" in defects else 1
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        limit = int(self._max_stream_s * 1000 / c.FRAME_MS)
        k = 0
        numbers = 1  # messages numbered so far
        if "start-twice" in defects:
            numbers += 1
            await ws.send(
                start.replace('"sequenceNumber": "1"', '"sequenceNumber": "2"', 1)
            )

        def number() -> int:
            nonlocal numbers
            numbers += 1
            if "seq-repeat" in defects and numbers % 20 == 0:
                return numbers - 1
            return numbers

        def media(k: int, track: str) -> str:
            return c.media_message(
                seq=number(),
                track=f"{track}_track" if "track-name-long" in defects else track,
                chunk=first_chunk + k,
                timestamp_ms=k * step_ms
                - (40 if "timestamp-backwards" in defects and k % 25 == 10 else 0),
                payload=frames[k % len(frames)],
                other_sid=other_sid,
                numeric_timestamp="numeric-timestamp" in defects,
            )

        while not stream.stop.is_set() and k < limit:
            delay = t0 + k * c.FRAME_MS / 1000 - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
                if stream.stop.is_set():
                    break
            if "no-media" not in defects:
                for track in media_tracks:
                    await ws.send(media(k, track))
            k += 1
        if "no-stop" not in defects:
            await ws.send(c.stop_message(number()))
        if "message-after-stop" in defects:
            await ws.send(media(k, tracks[0]))

    # --- status callbacks ---

    def _callback(self, stream: Stream, event: str, error: str | None = None) -> None:
        url = stream.request.status_callback
        if url is None:
            return
        params = c.callback_params(
            account_sid=self.account_sid,
            conference_sid=stream.conference_sid,
            stream_sid=stream.sid,
            name=stream.request.name,
            event=event,
            track=stream.request.track,
            when=datetime.datetime.now(datetime.UTC),
            error=error,
            defects=stream.defects,
        )
        previous = stream.callbacks
        stream.callbacks = asyncio.get_running_loop().create_task(
            self._send_callback(previous, stream, url, params)
        )

    async def _send_callback(
        self,
        previous: asyncio.Task[None] | None,
        stream: Stream,
        url: str,
        params: list[tuple[str, str]],
    ) -> None:
        if previous is not None:
            await asyncio.gather(previous, return_exceptions=True)
        method = stream.request.status_callback_method
        if method == "GET":
            url = url + ("&" if "?" in url else "?") + urlencode(params)
            post: list[tuple[str, str]] = []
        else:
            post = params
        headers = {}
        if self._signing_key and "callback-unsigned" not in stream.defects:
            headers["X-SignalWire-Signature"] = c.sign(
                self._signing_key,
                url,
                post,
                sort="callback-signature-unsorted" not in stream.defects,
            )
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(ssl=self._ssl),
                timeout=aiohttp.ClientTimeout(total=5),
            )
        try:
            async with self._session.request(
                method,
                yarl.URL(url, encoded=True),
                data=urlencode(post) if post else None,
                headers={
                    **headers,
                    **(
                        {"Content-Type": "application/x-www-form-urlencoded"}
                        if post
                        else {}
                    ),
                },
            ) as answer:
                await answer.read()
                if answer.status >= 300:
                    self.callbacks_failed += 1
                    log(f"callback {stream.sid} {params[5][1]}: HTTP {answer.status}")
        except Exception as exc:
            self.callbacks_failed += 1
            log(f"callback {stream.sid}: failed: {type(exc).__name__}: {exc}")

    # --- lifecycle ---

    async def shutdown(self, timeout_s: float = 5.0) -> None:
        """Stop every stream (each sends its stop), then let callbacks finish."""
        for stream in self.streams.values():
            stream.stop.set()
        tasks = [s.task for s in self.streams.values() if s.task is not None]
        if tasks:
            _, late = await asyncio.wait(tasks, timeout=timeout_s)
            for task in late:  # still dialling: give up on it
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        pending = [s.callbacks for s in self.streams.values() if s.callbacks]
        if pending:
            await asyncio.wait(pending, timeout=timeout_s)
        if self._session is not None:
            await self._session.close()
        if self._assignments is not None:
            self._assignments.close()


def _json(doc: dict[str, object], stream: Stream, status: int = 200) -> web.Response:
    """A stream's answer (``content-type-text``: the right JSON, the wrong Content-Type)."""
    if "content-type-text" in stream.defects:
        return web.Response(
            text=json.dumps(doc), status=status, content_type="text/plain"
        )
    return web.json_response(doc, status=status)


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else json.dumps(value)


async def _drain(ws: ClientConnection) -> None:
    """Read and drop what the receiver sends (bidirectional streams may send marks)."""
    try:
        async for _ in ws:
            pass
    except Exception:
        pass


async def serve(
    platform: Platform,
    host: str,
    port: int,
    max_duration_s: float,
    server_ssl: ssl.SSLContext | None = None,
) -> dict[str, object]:
    """Serve until SIGTERM/SIGINT or ``max_duration_s``; print the ready line first."""
    import signal

    runner = web.AppRunner(platform.app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port, ssl_context=server_ssl)
    await site.start()
    bound = int(runner.addresses[0][1])
    base = f"{'https' if server_ssl else 'http'}://{host}:{bound}"
    print(
        json.dumps(
            {
                "url": base,
                "api_base": f"{base}/api/laml/2010-04-01",
                "account_sid": platform.account_sid,
                "conferences": [
                    s
                    for s, conf in platform.conferences.items()
                    if conf.status == "in-progress"
                ],
                "defects": sorted(platform.defects),
            }
        ),
        flush=True,
    )
    done = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, done.set)
    started = time.monotonic()
    try:
        await asyncio.wait_for(done.wait(), timeout=max_duration_s)
    except TimeoutError:
        log(f"max duration {max_duration_s:g}s reached")
    await platform.shutdown()
    await runner.cleanup()
    summary: dict[str, object] = {
        "streams": platform.created,
        "callbacks_failed": platform.callbacks_failed,
        "seconds": round(time.monotonic() - started, 3),
    }
    log(f"stopped: {json.dumps(summary)}")
    return summary
