"""The shared ticker on a real uvloop: never early, in time order, one bad job isolated."""

from __future__ import annotations

import asyncio
import time

from harness.platform.ticker import RESOLUTION_NS, Ticker
from tests.conftest import seconds
from tests.harness.platform.support import run


MS = 1_000_000


def ceil_ms(ns: int) -> int:
    """``ns`` rounded up to a whole millisecond, a time on the ticker's grid."""
    return -(-ns // RESOLUTION_NS) * RESOLUTION_NS


class Repeat:
    """A job that runs ``times`` times, ``period_ns`` apart on an absolute grid."""

    def __init__(self, start_ns: int, period_ns: int, times: int) -> None:
        self.due = start_ns
        self.period = period_ns
        self.left = times
        self.calls: list[tuple[int, int]] = []  # (due, actual)
        self.finished = asyncio.Event()

    def tick(self, now_ns: int) -> int | None:
        self.calls.append((self.due, time.monotonic_ns()))
        self.left -= 1
        if not self.left:
            self.finished.set()
            return None
        self.due += self.period
        return self.due


def test_ceil_ms() -> None:
    assert ceil_ms(0) == 0
    assert ceil_ms(1) == RESOLUTION_NS
    assert ceil_ms(5 * MS) == 5 * MS
    assert ceil_ms(5 * MS + 1) == 6 * MS


def test_jobs_run_at_or_after_their_time_on_an_absolute_grid() -> None:
    async def main() -> None:
        ticker = Ticker()
        start = ceil_ms(time.monotonic_ns()) + 5 * MS
        jobs = [Repeat(start + i * 3 * MS, 20 * MS, 10) for i in range(5)]
        for job in jobs:
            ticker.add(job, job.due)
        async with asyncio.timeout(seconds(5)):
            for job in jobs:
                await job.finished.wait()
        await ticker.close()
        for job in jobs:
            dues = [due for due, _ in job.calls]
            assert dues == [job.calls[0][0] + k * 20 * MS for k in range(10)]
            for due, actual in job.calls:
                assert actual >= due  # never early
        assert ticker.jobs_run == 50
        assert ticker.take_lag() >= 0 and ticker.max_lag_ns == 0

    run(main())


def test_an_earlier_job_wakes_a_sleeping_ticker() -> None:
    async def main() -> None:
        ticker = Ticker()
        now = time.monotonic_ns()
        late = Repeat(now + 10 * 1000 * MS, 20 * MS, 1)  # 10 s away
        soon = Repeat(now + 2 * MS, 20 * MS, 1)
        ticker.add(late, late.due)
        await asyncio.sleep(0.01)  # the ticker is asleep towards the late job
        ticker.add(soon, soon.due)
        await asyncio.wait_for(soon.finished.wait(), seconds(2))
        assert late.calls == []
        await ticker.close()

    run(main())


def test_a_failing_job_is_dropped_and_the_others_go_on() -> None:
    class Broken:
        def tick(self, now_ns: int) -> int | None:
            raise RuntimeError("boom")

    async def main() -> None:
        ticker = Ticker()
        now = ceil_ms(time.monotonic_ns()) + MS
        ticker.add(Broken(), now)
        good = Repeat(now, 2 * MS, 3)
        ticker.add(good, now)
        await asyncio.wait_for(good.finished.wait(), seconds(2))
        await ticker.close()
        await ticker.close()  # idempotent

    run(main())


def test_reserve_spreads_new_streams_over_the_period() -> None:
    ticker = Ticker()
    now = 1_000 * MS + 300_000  # mid-millisecond
    dues = [ticker.reserve(now) for _ in range(45)]
    assert all(d % MS == 0 and 1_001 * MS <= d < 1_021 * MS for d in dues)
    phases = [(d // MS) % 20 for d in dues]
    assert sorted(phases.count(p) for p in range(20)) == [2] * 15 + [3] * 5
    assert dues[:3] == [1_001 * MS, 1_002 * MS, 1_003 * MS]  # earliest first on a tie
    for due in dues[:20]:
        ticker.release(due)
    assert ticker.reserve(now + 5 * MS) % MS == 0
    ticker.release(7 * MS)  # releasing an empty phase is harmless


def _burst_of_repeats(
    jobs: list[Repeat], slot_ns: int, now_ns: int
) -> tuple[list[Repeat], list[Repeat]]:
    """A burst that runs every :class:`Repeat` on a 20 ms period due at the slot
    itself (as the streamer's bucket pass does) and leaves the others."""
    again, rest = [], []
    for job in jobs:
        if job.period == 20 * MS and job.due == slot_ns and job.left > 1:
            job.calls.append((job.due, time.monotonic_ns()))
            job.left -= 1
            job.due += job.period
            again.append(job)
        else:
            rest.append(job)
    return again, rest


def test_a_burst_runs_its_jobs_one_period_on_and_leaves_the_rest_to_tick() -> None:
    """Jobs the burst ran come back one period later, in order, never early; the
    others (another period, a last call) get their own ``tick`` in the same bucket."""

    async def main() -> None:
        ticker = Ticker(burst=_burst_of_repeats)  # type: ignore[arg-type]
        start = ceil_ms(time.monotonic_ns()) + 5 * MS
        paced = [Repeat(start + (i % 3) * MS, 20 * MS, 6) for i in range(6)]
        other = Repeat(start, 7 * MS, 6)
        for job in [*paced, other]:
            ticker.add(job, job.due)
        async with asyncio.timeout(seconds(5)):
            for job in [*paced, other]:
                await job.finished.wait()
        await ticker.close()
        for job in [*paced, other]:
            dues = [due for due, _ in job.calls]
            assert dues == [job.calls[0][0] + k * job.period for k in range(6)]
            assert all(actual >= due for due, actual in job.calls)  # never early
        assert ticker.jobs_run == 42

    run(main())


def test_a_failing_burst_leaves_the_whole_bucket_to_tick() -> None:
    """A bug in the burst ends no job: each is ticked on its own instead."""

    def broken(
        jobs: list[Repeat], slot_ns: int, now_ns: int
    ) -> tuple[list[Repeat], list[Repeat]]:
        raise RuntimeError("boom")

    async def main() -> None:
        ticker = Ticker(burst=broken)  # type: ignore[arg-type]
        now = ceil_ms(time.monotonic_ns()) + MS
        jobs = [Repeat(now, 20 * MS, 3) for _ in range(3)]
        for job in jobs:
            ticker.add(job, now)
        async with asyncio.timeout(seconds(3)):
            for job in jobs:
                await job.finished.wait()
        await ticker.close()
        assert all(len(job.calls) == 3 for job in jobs)

    run(main())
