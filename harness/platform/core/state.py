"""The reference platform's registry of conferences, calls and streams (pure; no I/O, no clock).

It owns the naming rules: a stream is found by its sid, or failing that by its
``Name`` within its conference or call (contract §2.1, §2.2, §9.3), and a
``Name`` is unique among the live streams of one conference or call (docs/contract.md
§1.1 "Unique name for the Stream, per Conference", §2.2 "per Call"). Stopped
streams stay answerable, so stopping twice returns the stopped representation,
but only the most recent ``keep_stopped`` of them are kept, which bounds memory
on long runs.
"""

from __future__ import annotations

import collections
import dataclasses
from collections.abc import Iterable
from typing import Literal

from harness.core.api import FieldError, StartStreamRequest


__all__ = ["Call", "Conference", "Registry", "Stream", "StreamKind", "StreamStatus"]

StreamStatus = Literal["in-progress", "stopped"]
"""The ``status`` values this platform reports (contract §1.2; it never queues)."""
StreamKind = Literal["conference", "call"]


@dataclasses.dataclass(frozen=True, slots=True)
class Conference:
    """A conference that is in progress for the whole life of the platform."""

    sid: str
    friendly_name: str
    created_s: float
    """Wall time in epoch seconds, for ``date_created``."""


@dataclasses.dataclass(frozen=True, slots=True)
class Call:
    """A call that is in progress for the whole life of the platform (contract §2.2)."""

    sid: str
    from_number: str
    to_number: str
    created_s: float


@dataclasses.dataclass(slots=True)
class Stream:
    """One stream's REST-visible state."""

    sid: str
    conference_sid: str
    call_sid: str
    request: StartStreamRequest
    created_ns: int
    """CLOCK_MONOTONIC when the create request was accepted."""
    updated_s: float
    """Wall time in epoch seconds of the last change, for ``date_updated``."""
    status: StreamStatus = "in-progress"
    kind: StreamKind = "conference"
    """A conference stream (contract §1) or a call stream (§2.2; ``conference_sid`` is "")."""

    @property
    def name(self) -> str | None:
        return self.request.name

    @property
    def parent_sid(self) -> str:
        """The conference or call the stream belongs to: the scope of its ``Name``."""
        return self.conference_sid if self.kind == "conference" else self.call_sid


class Registry:
    """Conferences and their streams, with lookup by sid or by name."""

    def __init__(
        self,
        conferences: Iterable[Conference],
        calls: Iterable[Call] = (),
        *,
        keep_stopped: int = 100_000,
    ) -> None:
        self._conferences = {c.sid: c for c in conferences}
        self._calls = {c.sid: c for c in calls}
        self._keep_stopped = keep_stopped
        self._streams: dict[str, Stream] = {}
        self._live_names: dict[tuple[str, str], str] = {}
        self._stopped_names: dict[tuple[str, str], str] = {}
        self._stopped: collections.deque[str] = collections.deque()
        self._live = 0
        self._total = 0

    @property
    def conferences(self) -> tuple[Conference, ...]:
        return tuple(self._conferences.values())

    @property
    def live_count(self) -> int:
        """Streams in progress."""
        return self._live

    @property
    def total_count(self) -> int:
        """Streams ever accepted."""
        return self._total

    @property
    def calls(self) -> tuple[Call, ...]:
        return tuple(self._calls.values())

    def conference(self, sid: str) -> Conference | None:
        return self._conferences.get(sid)

    def call(self, sid: str) -> Call | None:
        return self._calls.get(sid)

    def live(self) -> list[Stream]:
        """Every stream in progress, oldest first."""
        return [s for s in self._streams.values() if s.status == "in-progress"]

    def add(self, stream: Stream) -> FieldError | None:
        """Register a new live stream; refuse a ``Name`` already live in its conference or call.

        Raises:
            KeyError: the parent or the sid is wrong (a caller bug, not a request error).
        """
        parents = self._conferences if stream.kind == "conference" else self._calls
        if stream.parent_sid not in parents:
            raise KeyError(f"unknown {stream.kind} {stream.parent_sid}")
        if stream.sid in self._streams:
            raise KeyError(f"stream {stream.sid} exists")
        if stream.name is not None:
            key = (stream.parent_sid, stream.name)
            if key in self._live_names:
                # contract §4 StreamError vocabulary; §10: the HTTP status is undocumented, we answer 422.
                return FieldError("Name", "Duplicated stream name")
            self._live_names[key] = stream.sid
        self._streams[stream.sid] = stream
        self._live += 1
        self._total += 1
        return None

    def find(self, parent_sid: str, sid_or_name: str) -> Stream | None:
        """Find by sid, else by a live ``Name``, else by the latest stopped one (contract §2.1)."""
        stream = self._streams.get(sid_or_name)
        if stream is not None and stream.parent_sid == parent_sid:
            return stream
        key = (parent_sid, sid_or_name)
        sid = self._live_names.get(key) or self._stopped_names.get(key)
        return None if sid is None else self._streams.get(sid)

    def stop(self, stream: Stream, now_s: float) -> bool:
        """Mark ``stream`` stopped at wall time ``now_s``; ``False`` if it already was."""
        if stream.status == "stopped":
            return False
        stream.status = "stopped"
        stream.updated_s = now_s
        self._live -= 1
        if stream.name is not None:
            key = (stream.parent_sid, stream.name)
            if self._live_names.get(key) == stream.sid:
                del self._live_names[key]
            self._stopped_names[key] = stream.sid
        self._stopped.append(stream.sid)
        while len(self._stopped) > self._keep_stopped:
            self._forget(self._stopped.popleft())
        return True

    def _forget(self, sid: str) -> None:
        stream = self._streams.pop(sid)
        if stream.name is not None:
            key = (stream.parent_sid, stream.name)
            if self._stopped_names.get(key) == sid:
                del self._stopped_names[key]
