"""``StreamUser``: start a stream, hold it, stop it, again, walking the request matrix.

Each request is checked against the REST contract (harness.core.api) and recorded
with its scheduled time, so latency counts from when the request was due: in
the closed model that is when the user became free; in the open model it is the
arrival slot the :class:`~scenarios.context.Pacer` handed out, however late a
free user picked it up.
"""

from __future__ import annotations

import base64
import random
import time
from typing import Any
from urllib.parse import quote

import gevent
from locust import FastHttpUser, tag, task
from locust.exception import StopUser

from harness.core.api import check_stream_response, in_progress_conferences
from harness.core.rules import Checker
from scenarios.context import ScenarioContext
from scenarios.matrix import Combo
from scenarios.rest import RestPoster


__all__ = ["StreamUser"]

_RETRY_AFTER_S = (0.1, 0.3)
"""Pause after a start that failed, before the next try."""
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

    insecure = False
    """Verify the platform's certificate (the listeners trust the run's CA)."""

    ctx: ScenarioContext
    conferences: list[str]
    active: _Active | None
    _headers: dict[str, str]
    _rest: RestPoster

    def on_start(self) -> None:
        self.ctx = self.environment.streamload
        self.active = None
        # Basic auth encoded once per user, not per request (thousands a second)
        basic = base64.b64encode(":".join(self._auth()).encode()).decode()
        self._headers = {**_FORM, "Authorization": f"Basic {basic}"}
        self._rest = RestPoster(self, self._headers)
        self.conferences = list(self.ctx.conferences) or self._discover()
        if not self.conferences:
            raise StopUser("no in-progress conference to stream from")

    def on_stop(self) -> None:
        if self.active is not None:
            self._stop(self.active)

    def wait_time(self) -> float:
        """Closed model: the profile's pause; open model: none (the pacer paces)."""
        if self.ctx.pacer is not None:
            return 0.0
        low, high = self.ctx.load.wait_s
        return random.uniform(low, high)

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
        return in_progress_conferences(doc)

    @tag("stream")
    @task
    def stream_once(self) -> None:
        """Start one stream from the matrix, hold it, stop it."""
        hold_s = random.uniform(*self.ctx.load.hold_s)
        active = self.create_stream(hold_s)
        if active is None:
            # a refused caller does not redial in a hot loop (a dead target would
            # otherwise get thousands of starts a second from each user)
            gevent.sleep(random.uniform(*_RETRY_AFTER_S))
            return
        self.active = active
        gevent.sleep(hold_s)
        self._stop(active)

    def create_stream(self, hold_s: float | None = None) -> _Active | None:
        """Send the next start request of the matrix, check and record the answer.

        Not a task by itself (and not named ``start``, which would shadow
        ``User.start``): a custom user class can fire starts without stops.
        ``hold_s`` (default: the longest hold) counts against the budget's
        stream minutes; once a cap is reached this user stops (StopUser).
        """
        ctx = self.ctx
        hold = ctx.load.hold_s[1] if hold_s is None else hold_s
        index = getattr(self.environment.runner, "worker_index", 0)
        if not ctx.budget.admit(hold, index if isinstance(index, int) else 0):
            raise StopUser(f"budget reached: {ctx.budget.reached}")
        combo = ctx.next_combo()
        request_id = ctx.next_request_id()
        conference = random.choice(self.conferences)
        name = f"sl-{request_id}" if combo.stop_by == "name" else None
        body, correlation, params = ctx.forms.request(combo, request_id, name)
        path = f"/Accounts/{ctx.account_sid}/Conferences/{conference}/Streams"
        now = time.monotonic_ns()
        if ctx.pacer is None:
            due = now  # closed model: due when the user is free
        else:
            slot = ctx.pacer.take(now)
            if slot is None:
                return None  # the schedule has ended; Locust stops us soon
            due = slot
            if due > now:
                gevent.sleep((due - now) / 1e9)
        sent = time.monotonic_ns()
        reply = self._rest.post(path, body, "create_stream")
        done = time.monotonic_ns()
        checker = Checker(request_id)
        doc = check_stream_response(
            checker,
            reply.status,
            reply.content,
            kind="create",
            account_sid=ctx.account_sid,
            conference_sid=conference,
            name=name,
            at_ns=done,
            content_type=reply.content_type,
        )
        sid = str(doc["sid"]) if doc and isinstance(doc.get("sid"), str) else ""
        error = "" if sid else reply.error_text()
        self._rest.report(reply, error or None)
        self._record(
            "start",
            request_id,
            conference,
            combo,
            due,
            sent,
            done,
            reply.status,
            sid,
            error,
            checker,
            (params, correlation),
        )
        return _Active(conference, sid, name, combo, request_id) if sid else None

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
        reply = self._rest.post(
            path, "Status=stopped", f"stop_stream_by_{active.combo.stop_by}"
        )
        done = time.monotonic_ns()
        checker = Checker(active.request_id)
        doc = check_stream_response(
            checker,
            reply.status,
            reply.content,
            kind="stop",
            account_sid=ctx.account_sid,
            conference_sid=active.conference,
            name=active.name,
            stream_sid=active.sid,
            at_ns=done,
            content_type=reply.content_type,
        )
        error = "" if doc is not None else reply.error_text()
        self._rest.report(reply, error or None)
        self._record(
            "stop",
            active.request_id,
            active.conference,
            active.combo,
            due,
            sent,
            done,
            reply.status,
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
        params: tuple[str, str] = ("", ""),
    ) -> None:
        """One ``requests`` row; ``params``: the start's parameter fingerprint
        and correlation value (what the report's join by sid judges against)."""
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
                *params,
                self.ctx.account_sid,
            ),
        )
        sink.add_checker("scenario", checker)
