"""One shared ticker that sends the due frames of every stream (docs/performance.md §3).

A task per stream that sleeps to its next 20 ms deadline costs one timer and one
coroutine wake-up per frame; docs/performance.md §3 measured a shared ~1 ms ticker at
+50 % streams per core with better pacing. Jobs (one per stream) sit in 1 ms
buckets keyed by the deadline rounded up, so a bucket never runs before its
jobs are due: streams align their schedule to whole milliseconds, which makes
most deadlines exact bucket times and the send-time error the ticker's wake-up
latency plus the job's place in its bucket. New streams take the least loaded
of the 20 phases (:meth:`Ticker.reserve`), so buckets stay even.

uvloop rounds a timer's delay to whole milliseconds and counts them from a
millisecond clock, so a timer fires up to ~1 ms early or late (docs/performance.md
§3); sleeping again for the rest spun the loop at every bucket edge. The
ticker sleeps on an :class:`~harness.platform.alarm.Alarm` (a timerfd armed
at the bucket's exact time) instead: it wakes on time without spinning.

A job's :meth:`Job.tick` must not await: it writes without waiting (see
:mod:`harness.platform.streamer`), so one slow receiver never delays the others.

A :data:`Burst` (:func:`harness.platform.lane.run_bucket`, over each stream's
:class:`~harness.platform.lane.Lane`) runs the common case of a whole bucket in
one pass, without a ``tick`` call and a re-bucketing per job: the jobs it ran
are due again exactly one period later and move to that bucket together
(docs/performance.md "The platform's frame in bytes and its bucket pass"); the
ticker calls ``tick`` on the others as before.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import time
from collections.abc import Callable
from typing import Protocol

from harness.platform.alarm import Alarm


__all__ = ["PERIOD_SLOTS", "RESOLUTION_NS", "Burst", "Job", "Ticker"]

log = logging.getLogger(__name__)

RESOLUTION_NS = 1_000_000
PERIOD_SLOTS = 20
"""A stream's period (20 ms, contract §5.5) in buckets: the phases :meth:`Ticker.reserve` spreads."""


class Job(Protocol):
    """Something the ticker calls when its time has come."""

    def tick(self, now_ns: int) -> int | None:
        """Do what is due by ``now_ns``; return when to be called next, or ``None`` to leave."""
        ...


Burst = Callable[[list[Job], int, int], tuple[list[Job], list[Job]]]
"""``burst(jobs, slot_ns, now_ns) -> (again, rest)``: run what it can of the bucket
due at ``slot_ns`` (at ``now_ns``); ``again`` are the jobs it ran, each due again at
``slot_ns + PERIOD_SLOTS * RESOLUTION_NS``, in order; ``rest`` the jobs it left,
whose :meth:`Job.tick` the ticker then calls. Every job is in exactly one of them."""


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class Ticker:
    """Run every job's :meth:`~Job.tick` at (never before) the time it asked for.

    ``burst``: runs a bucket's common case in one pass (:data:`Burst`).
    """

    def __init__(self, burst: Burst | None = None) -> None:
        self._burst = burst
        self._buckets: dict[int, list[Job]] = {}
        self._slots: list[int] = []
        self._waiter: asyncio.Future[None] | None = None
        self._sleeping_until: int | None = None
        self._task: asyncio.Task[None] | None = None
        self._alarm: Alarm | None = None
        self._phases = [0] * PERIOD_SLOTS
        self.jobs_run = 0
        self.max_lag_ns = 0
        """Largest lateness of a bucket since the last :meth:`take_lag` (pacing health)."""

    def add(self, job: Job, at_ns: int) -> None:
        """Call ``job.tick`` at ``at_ns`` or just after; starts the ticker task if needed."""
        slot = -(-at_ns // RESOLUTION_NS)
        bucket = self._buckets.get(slot)
        if bucket is not None:
            bucket.append(job)
            return
        self._buckets[slot] = [job]
        heapq.heappush(self._slots, slot)
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name="ticker"
            )
        elif self._waiter is not None and (
            self._sleeping_until is None or slot < self._sleeping_until
        ):
            _wake(self._waiter)

    def reserve(self, now_ns: int) -> int:
        """Pick a stream's first deadline: the least loaded 1 ms phase of the next 20 ms.

        Streams created in a burst would otherwise share one bucket, and the
        last of 50 frames in one bucket goes out a millisecond late. Costs a
        new stream at most 19 ms before its first frame. Pair with :meth:`release`.
        """
        base = -(-now_ns // RESOLUTION_NS)
        phases = self._phases
        best = min(
            range(PERIOD_SLOTS), key=lambda k: (phases[(base + k) % PERIOD_SLOTS], k)
        )
        phases[(base + best) % PERIOD_SLOTS] += 1
        return (base + best) * RESOLUTION_NS

    def release(self, first_due_ns: int) -> None:
        """A stream that had :meth:`reserve` d its phase has ended."""
        phase = (first_due_ns // RESOLUTION_NS) % PERIOD_SLOTS
        if self._phases[phase] > 0:
            self._phases[phase] -= 1

    def take_lag(self) -> int:
        """Return and reset :attr:`max_lag_ns`."""
        lag, self.max_lag_ns = self.max_lag_ns, 0
        return lag

    async def close(self) -> None:
        """Stop the ticker task; pending jobs are dropped."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        if self._alarm is not None:
            self._alarm.close()
            self._alarm = None
        self._buckets.clear()
        self._slots.clear()

    async def _run(self) -> None:
        buckets, slots = self._buckets, self._slots
        clock = time.monotonic_ns
        while True:
            if not slots:
                await self._sleep(None)
                continue
            slot = slots[0]
            due = slot * RESOLUTION_NS
            now = clock()
            if now < due:
                await self._sleep(slot)
                continue
            heapq.heappop(slots)
            jobs = buckets.pop(slot)
            lag = now - due
            if lag > self.max_lag_ns:
                self.max_lag_ns = lag
            self.jobs_run += len(jobs)
            if self._burst is not None:
                jobs = self._run_burst(self._burst, jobs, slot, now)
            for job in jobs:
                try:
                    after = job.tick(now)
                except Exception:  # one stream's bug must not stop every other stream
                    log.exception("ticker job %r failed; dropped", job)
                    continue
                if after is not None:
                    # add()'s common case inline: the job's next bucket exists
                    # (its period's other streams are there), so no heap push
                    bucket = buckets.get(-(-after // RESOLUTION_NS))
                    if bucket is None:
                        self.add(job, after)
                    else:
                        bucket.append(job)
            if slots and slots[0] * RESOLUTION_NS <= clock():
                await asyncio.sleep(0)  # behind: still let reads and the API in

    def _run_burst(
        self, burst: Burst, jobs: list[Job], slot: int, now: int
    ) -> list[Job]:
        """Run ``burst`` on bucket ``slot``; queue what it ran one period on and
        return the jobs left for their own ``tick`` (all of them if it raised:
        a job it ran already moved its own schedule on, so its ``tick`` only
        says when it is next due)."""
        try:
            again, rest = burst(jobs, slot * RESOLUTION_NS, now)
        except Exception:  # a bug in the pass must not stop every stream
            log.exception("ticker burst failed; ticking the bucket's jobs one by one")
            return jobs
        if again:
            later = slot + PERIOD_SLOTS
            bucket = self._buckets.get(later)
            if bucket is None:
                self._buckets[later] = again
                heapq.heappush(self._slots, later)
            else:
                bucket.extend(again)
        return rest

    async def _sleep(self, slot: int | None) -> None:
        """Sleep until bucket ``slot`` is due (forever if ``None``), or until :meth:`add` wakes it."""
        waiter = self._waiter = asyncio.get_running_loop().create_future()
        self._sleeping_until = slot
        if slot is not None:
            if self._alarm is None:
                self._alarm = Alarm(self._ring)
            # Not cancelled on an early wake: a stale ring only re-runs the loop once.
            self._alarm.set(slot * RESOLUTION_NS)
        try:
            await waiter
        finally:
            self._waiter = None
            self._sleeping_until = None

    def _ring(self) -> None:
        if self._waiter is not None:
            _wake(self._waiter)
