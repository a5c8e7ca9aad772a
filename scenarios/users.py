"""``StreamUser``: start a stream, hold it, stop it, again, walking the request matrix.

Each request is checked against the REST contract (harness.api) and recorded
with its scheduled time, so latency counts from when the request was due.
"""

from __future__ import annotations

import random
import time
from typing import Any
from urllib.parse import quote, urlencode

import gevent
from locust import FastHttpUser, between, task
from locust.exception import StopUser

from harness.api import StartStreamRequest, check_stream_response
from harness.correlation import PARAM_NAME, Expectation, digest
from harness.rules import Checker
from scenarios.context import ScenarioContext
from scenarios.matrix import Combo, custom_parameters


__all__ = ["StreamUser"]

_FORM = {
    "Content-Type": "application/x-www-form-urlencoded",
    "Accept": "application/json",
}


class _Active:
    __slots__ = ("combo", "conference", "name", "request_id", "sid")

    def __init__(
        self, conference: str, sid: str, name: str | None, combo: Combo, request_id: str
    ):
        self.conference = conference
        self.sid = sid
        self.name = name
        self.combo = combo
        self.request_id = request_id


class StreamUser(FastHttpUser):
    """One caller that keeps one stream at a time open."""

    wait_time = between(0.05, 0.25)
    """Pause between a stop and the next start."""
    insecure = False
    """Verify the platform's certificate (the listeners trust the run's CA)."""

    ctx: ScenarioContext
    conferences: list[str]
    active: _Active | None

    def on_start(self) -> None:
        self.ctx = self.environment.streamload
        self.active = None
        self.conferences = list(self.ctx.conferences) or self._discover()
        if not self.conferences:
            raise StopUser("no in-progress conference to stream from")

    def on_stop(self) -> None:
        if self.active is not None:
            self._stop(self.active)

    def _auth(self) -> tuple[str, str]:
        return (self.ctx.account_sid, self.ctx.api_token.reveal())

    def _discover(self) -> list[str]:
        path = f"/Accounts/{self.ctx.account_sid}/Conferences.json"
        with self.client.get(
            path, auth=self._auth(), name="list_conferences", catch_response=True
        ) as resp:
            if resp.status_code != 200:
                resp.failure(f"HTTP {resp.status_code}")
                return []
            doc: Any = resp.json()
        return [
            c["sid"]
            for c in doc.get("conferences", [])
            if c.get("status") == "in-progress"
        ]

    @task
    def stream_once(self) -> None:
        """Start one stream from the matrix, hold it, stop it."""
        ctx = self.ctx
        combo = ctx.next_combo()
        request_id = ctx.next_request_id()
        params = custom_parameters(combo.n_params, request_id)
        expect = Expectation(
            ctx.run_id,
            request_id,
            combo.codec,
            combo.track,
            len(params),
            digest(params),
        )
        conference = random.choice(self.conferences)
        name = f"sl-{request_id}" if combo.stop_by == "name" else None
        request = StartStreamRequest(
            url=ctx.receiver_url,
            name=name,
            track=combo.track,
            codec=combo.codec,
            parameters=(*params, (PARAM_NAME, expect.encode())),
            bearer_token=ctx.bearer_token,
        )
        path = f"/Accounts/{ctx.account_sid}/Conferences/{conference}/Streams"
        due = sent = time.monotonic_ns()  # closed model: due when the user is free
        with self.client.post(
            path,
            data=urlencode(request.form()),
            headers=_FORM,
            auth=self._auth(),
            name="create_stream",
            catch_response=True,
        ) as resp:
            done = time.monotonic_ns()
            checker = Checker(request_id)
            doc = check_stream_response(
                checker,
                resp.status_code,
                resp.content or b"",
                kind="create",
                account_sid=ctx.account_sid,
                conference_sid=conference,
                name=name,
                at_ns=done,
            )
            sid = str(doc["sid"]) if doc and isinstance(doc.get("sid"), str) else ""
            error = "" if sid else _error_text(resp)
            if not sid:
                resp.failure(error)
        self._record(
            "start",
            request_id,
            conference,
            combo,
            due,
            sent,
            done,
            resp.status_code,
            sid,
            error,
            checker,
        )
        if not sid:
            return
        self.active = _Active(conference, sid, name, combo, request_id)
        gevent.sleep(random.uniform(*ctx.hold_s))
        self._stop(self.active)

    def _stop(self, active: _Active) -> None:
        self.active = None
        ctx = self.ctx
        target = (
            active.name
            if active.combo.stop_by == "name" and active.name
            else active.sid
        )
        path = f"/Accounts/{ctx.account_sid}/Conferences/{active.conference}/Streams/{quote(target)}"
        due = sent = time.monotonic_ns()
        with self.client.post(
            path,
            data="Status=stopped",
            headers=_FORM,
            auth=self._auth(),
            name=f"stop_stream_by_{active.combo.stop_by}",
            catch_response=True,
        ) as resp:
            done = time.monotonic_ns()
            checker = Checker(active.request_id)
            doc = check_stream_response(
                checker,
                resp.status_code,
                resp.content or b"",
                kind="stop",
                account_sid=ctx.account_sid,
                conference_sid=active.conference,
                name=active.name,
                stream_sid=active.sid,
                at_ns=done,
            )
            error = "" if doc is not None else _error_text(resp)
            if doc is None:
                resp.failure(error)
        self._record(
            "stop",
            active.request_id,
            active.conference,
            active.combo,
            due,
            sent,
            done,
            resp.status_code,
            active.sid,
            error,
            checker,
        )

    def _record(
        self,
        kind: str,
        request_id: str,
        conference: str,
        combo: Combo,
        due: int,
        sent: int,
        done: int,
        status: int | None,
        sid: str,
        error: str,
        checker: Checker,
    ) -> None:
        sink = self.ctx.sink
        if sink is None:
            return
        sink.add(
            "requests",
            (
                self.ctx.run_id,
                request_id,
                kind,
                conference,
                combo.codec,
                combo.track,
                combo.n_params,
                due,
                sent,
                done,
                status or 0,
                sid,
                error,
            ),
        )
        sink.add_checker("scenario", checker)


def _error_text(resp: Any) -> str:
    """A short, secret-free description of a failed answer."""
    if resp.status_code in (0, None):
        return f"no answer: {type(resp.error).__name__ if resp.error else 'connection failed'}"
    body = (resp.text or "")[:200]
    return f"HTTP {resp.status_code}: {body}"
