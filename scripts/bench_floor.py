"""What timing precision this machine allows at all: the floor under every pacing figure.

    .venv/bin/python scripts/bench_floor.py            # 5 s each, pinned to CPU 1

Two probes, each pinned to one CPU and doing no work but keeping time:

* ``wake``: a uvloop loop that sleeps until every whole millisecond on the
  platform's own timerfd :class:`~harness.platform.alarm.Alarm` and records
  how late it woke. This is the best a paced sender that idles between frames
  can do here, whatever its per-frame cost.
* ``spin``: a busy loop that reads the clock until every whole millisecond.
  It never sleeps, so what it sees late is the CPU taken away from it
  (hypervisor steal, host preemption, interrupts).

On a machine where these p99s are near or above a pacing goal (issue 3: send
error p99 <= 2 ms), no sender can meet the goal there, and a benchmark's
failure says more about the machine than about the code; the other benchmark
scripts print this floor beside their own figures for that reason.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np


ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.platform.alarm import Alarm  # noqa: E402


MS = 1_000_000


def _summary(late_ns: list[int]) -> dict[str, float]:
    ms = np.asarray(late_ns, np.float64) / MS
    p50, p99, p999, peak = np.percentile(ms, [50, 99, 99.9, 100])
    return {
        "p50_ms": round(float(p50), 3),
        "p99_ms": round(float(p99), 3),
        "p999_ms": round(float(p999), 3),
        "max_ms": round(float(peak), 3),
    }


async def _wake(ticks: int) -> list[int]:
    loop = asyncio.get_running_loop()
    waiter: asyncio.Future[None] | None = None

    def ring() -> None:
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    alarm = Alarm(ring)
    clock = time.monotonic_ns
    t0 = (clock() // MS + 20) * MS
    late = []
    try:
        for slot in range(ticks):
            due = t0 + slot * MS
            if clock() < due:
                waiter = loop.create_future()
                alarm.set(due)
                await waiter
            late.append(clock() - due)
    finally:
        alarm.close()
    return late


def _spin(ticks: int) -> list[int]:
    clock = time.monotonic_ns
    t0 = (clock() // MS + 20) * MS
    late = []
    for slot in range(ticks):
        due = t0 + slot * MS
        while clock() < due:
            pass
        late.append(clock() - due)
    return late


def floor(seconds: float = 5.0, cpu: int = 1) -> dict[str, Any]:
    """Wake and spin lateness on ``cpu`` (if there is one), ``seconds`` each."""
    import uvloop

    if hasattr(os, "sched_setaffinity") and cpu < (os.cpu_count() or 1):
        before = os.sched_getaffinity(0)
        os.sched_setaffinity(0, {cpu})
    else:
        before = None
    try:
        ticks = int(seconds * 1000)
        return {
            "wake": _summary(uvloop.run(_wake(ticks))),
            "spin": _summary(_spin(ticks)),
        }
    finally:
        if before is not None:
            os.sched_setaffinity(0, before)


def describe(result: dict[str, Any]) -> str:
    """One line for the other benchmarks' output."""
    w, s = result["wake"], result["spin"]
    return (
        f"machine floor (1 ms timer, idle loop): wake late p99 {w['p99_ms']} ms, "
        f"max {w['max_ms']} ms; busy loop late p99 {s['p99_ms']} ms, max {s['max_ms']} ms"
    )


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=5.0, help="per probe (<= 60)")
    p.add_argument("--cpu", type=int, default=1, help="the CPU to pin to")
    args = p.parse_args()
    if not 0 < args.seconds <= 60:
        p.error("--seconds: use 0 to 60")
    result = floor(args.seconds, args.cpu)
    print(json.dumps(result))
    print(describe(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
