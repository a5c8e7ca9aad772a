"""The ticker's alarm on a real uvloop: rings once, never before its time, replaceable."""

from __future__ import annotations

import asyncio
import os
import time

import pytest

from harness.platform.alarm import Alarm
from tests.conftest import seconds
from tests.harness.platform.support import run


MS = 1_000_000


async def ring_times(precise: bool, deadlines: list[int]) -> list[tuple[int, int]]:
    """(deadline, ring time) for each deadline, one alarm re-armed after each ring."""
    rang: asyncio.Queue[int] = asyncio.Queue()
    alarm = Alarm(lambda: rang.put_nowait(time.monotonic_ns()), precise=precise)
    out = []
    try:
        for at in deadlines:
            alarm.set(at)
            got = await asyncio.wait_for(rang.get(), seconds(2))
            out.append((at, got))
    finally:
        alarm.close()
    return out


@pytest.mark.parametrize("precise", [True, False], ids=["timerfd", "call_later"])
def test_rings_at_or_after_the_deadline_never_before(precise: bool) -> None:
    async def main() -> None:
        start = time.monotonic_ns()
        # sub-millisecond offsets: the case where a ms-rounded timer fires early
        deadlines = [start + k * 1_700_000 + 300_000 for k in range(1, 30)]
        for at, got in await ring_times(precise, deadlines):
            assert got >= at

    run(main())


def test_the_timerfd_backs_it_on_linux() -> None:
    async def main() -> None:
        alarm = Alarm(lambda: None)
        assert alarm.precise
        alarm.close()
        assert not Alarm(lambda: None, precise=False).precise

    run(main())


@pytest.mark.parametrize("precise", [True, False], ids=["timerfd", "call_later"])
def test_set_replaces_the_pending_ring_and_cancel_forgets_it(precise: bool) -> None:
    async def main() -> None:
        calls: list[int] = []
        alarm = Alarm(lambda: calls.append(time.monotonic_ns()), precise=precise)
        now = time.monotonic_ns()
        alarm.set(now + 5 * MS)
        alarm.set(now + 40 * MS)  # replaces the 5 ms ring
        await asyncio.sleep(0.02)
        assert calls == []
        await asyncio.sleep(0.05)
        assert len(calls) == 1 and calls[0] >= now + 40 * MS
        alarm.set(time.monotonic_ns() + 5 * MS)
        alarm.cancel()
        await asyncio.sleep(0.03)
        assert len(calls) == 1
        alarm.close()

    run(main())


@pytest.mark.parametrize("precise", [True, False], ids=["timerfd", "call_later"])
def test_a_past_deadline_rings_at_once(precise: bool) -> None:
    async def main() -> None:
        rang = asyncio.Event()
        alarm = Alarm(rang.set, precise=precise)
        alarm.set(time.monotonic_ns() - 50 * MS)
        await asyncio.wait_for(rang.wait(), seconds(0.5))
        alarm.set(0)  # the clock's origin: long past, and must not disarm
        rang.clear()
        await asyncio.wait_for(rang.wait(), seconds(0.5))
        alarm.close()

    run(main())


def test_close_releases_the_file_descriptor() -> None:
    async def main() -> None:
        before = len(os.listdir("/proc/self/fd"))
        alarms = [Alarm(lambda: None) for _ in range(20)]
        assert len(os.listdir("/proc/self/fd")) >= before + 20
        for alarm in alarms:
            alarm.close()
        assert len(os.listdir("/proc/self/fd")) == before

    run(main())
