"""One stream's emulated network path, between the media pipeline and its socket (pure).

A frame leaves the pipeline at ``sent_ns`` and is pushed here; the link decides
whether it is lost, duplicated, held back to swap with the next frame of its
track, or delayed (fixed delay, jitter, a stall), and when each copy may be
written. The socket is a TCP stream, so the link is FIFO like one: jitter and
stalls delay a frame and every frame behind it, and only the ``reorder``
impairment changes the order. Time is an argument; the streamer's ticker calls
:meth:`Link.release` when :meth:`Link.next_due` has come.

Every random event is reported to ``log``: the ground truth of the
``impairments`` table. A loss, duplicate or stall is logged as it is drawn; a
swap when it happens, i.e. when the next frame of the track overtakes the held
one (a frame held when its stream ends goes out in order and is not logged).
Delay and jitter are not events; they show in each frame's ``wire_ns - sent_ns``.
"""

from __future__ import annotations

import collections
import random
from collections.abc import Callable
from typing import Generic, TypeVar

from harness.platform.core.faults import Faults


__all__ = ["ImpairmentLog", "Link"]

T = TypeVar("T")

ImpairmentLog = Callable[[str, int, str, int], None]
"""``log(track, chunk, kind, value_ns)`` for each injected event."""


class Link(Generic[T]):
    """A FIFO of frames with release times, plus the frames held back for a swap."""

    def __init__(self, faults: Faults, rng: random.Random, log: ImpairmentLog) -> None:
        self._faults = faults
        self._rng = rng
        self._log = log
        self._queue: collections.deque[tuple[int, T, bool]] = collections.deque()
        self._held: dict[str, tuple[int, list[tuple[T, bool]]]] = {}
        self._last_due = 0
        self._stall_until = 0

    def push(self, item: T, track: str, chunk: int, now_ns: int) -> bool:
        """Take one frame that left the pipeline at ``now_ns``; ``False`` if it is lost."""
        f, rng, log = self._faults, self._rng, self._log
        if f.loss and rng.random() < f.loss:
            log(track, chunk, "loss", 0)
            return False
        copies = [(item, True)]
        if f.duplicate and rng.random() < f.duplicate:
            copies.append((item, False))
            log(track, chunk, "duplicate", 0)
        if f.stall and rng.random() < f.stall:
            self._stall_until = max(self._stall_until, now_ns + f.stall_ns)
            log(track, chunk, "stall", f.stall_ns)
        due = now_ns + f.delay_ns
        if f.jitter is not None:
            due += f.jitter.sample(rng)
        due = max(due, self._last_due, self._stall_until)
        held = self._held.pop(track, None)
        if held is None and f.reorder and rng.random() < f.reorder:
            # Swapped with the next frame of this track: released right after it,
            # and logged then (a stream that ends first never shows the swap).
            self._held[track] = (chunk, copies)
            return True
        self._last_due = due
        queue = self._queue
        for entry, first in copies:
            queue.append((due, entry, first))
        if held is not None:
            held_chunk, held_copies = held
            for entry, first in held_copies:
                queue.append((due, entry, first))
            log(track, held_chunk, "reorder", 0)
        return True

    def next_due(self) -> int | None:
        """When the oldest queued frame may be written, or ``None`` when none is."""
        return self._queue[0][0] if self._queue else None

    def last_due(self) -> int | None:
        """When the newest queued frame may be written, or ``None`` when none is."""
        return self._queue[-1][0] if self._queue else None

    def release(self, now_ns: int) -> list[tuple[T, bool]]:
        """Pop the frames due by ``now_ns`` in wire order, each with "is the first copy"."""
        queue = self._queue
        out: list[tuple[T, bool]] = []
        while queue and queue[0][0] <= now_ns:
            _, item, first = queue.popleft()
            out.append((item, first))
        return out

    def drain(self) -> list[tuple[T, bool]]:
        """Everything still inside, queued then held, for a stream that is ending."""
        out = [(item, first) for _, item, first in self._queue]
        self._queue.clear()
        for _, copies in self._held.values():
            out.extend(copies)
        self._held.clear()
        return out

    def __len__(self) -> int:
        return len(self._queue) + sum(len(c) for _, c in self._held.values())
