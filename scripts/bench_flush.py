"""How long the record writer stalls an event loop, with no network at all (issue 14).

    .venv/bin/python scripts/bench_flush.py             # nice0 vs nice19, 25k and 50k rows/s
    .venv/bin/python scripts/bench_flush.py --ab nice0,idle,none --rates 50000 --rounds 2

The platform's send errors came as 5-32 ms excursions about once a second, the
record flush's cadence (docs/performance.md "The platform sender against the
bare one"). This takes the network out: a child process runs a uvloop loop
(``runtime.settle()`` applied, as the platform does) with a 1 ms ticker that
writes ``--rate`` rows/s of the platform's ``sent_frames`` shape (500 streams)
into a real :class:`harness.io.recorder.Recorder` over a real
:class:`harness.io.sink.RecordSink` in a temporary directory, flushed every
second as the platform's is. After the rows, each tick keeps the loop busy for
``--busy`` of a millisecond (the platform's loop runs at ~0.8 core at 500
streams). It reports the ticker's lateness (loop lag) p50, p99, p99.9 and max,
the late ticks (>= 2 ms) and how many of them fell while a write ran
(``late_in_write``: the writer's own share; the rest is the host's), and the
CPU of the loop and of the writer thread.

The variants (:data:`VARIANTS`) are the writers under test; the parent
alternates those of ``--ab`` round by round (the order reversed every other
round), each in a fresh child pinned to ``--cpu`` (the platform's CPU in
``bench_platform.py``), and prints a JSON summary: every run, the median of
each figure per variant and rate, and the ratios of the second variant to the
first. Every child is bounded in time and ended by its pid.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import uvloop


ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.io import runtime  # noqa: E402
from harness.io.recorder import WRITER_NICE, Recorder  # noqa: E402
from harness.io.sink import Batch, RecordSink  # noqa: E402


STREAMS = 500
TICK_NS = 1_000_000
LATE_NS = 2_000_000
VARIANTS = ("nice0", "nice19", "idle", "small", "none")
"""``nice0``: the writer thread at the loop's priority (main before issue 14's
fix); ``nice19``: at :data:`harness.io.recorder.WRITER_NICE` (the default now);
``idle``: at nice 0 but ``SCHED_IDLE``; ``small``: nice 0, hand-offs of 5,000
rows every 0.1 s (10x the parts: a diagnosis, not a candidate); ``none``:
batches handed over and discarded unwritten (the floor: the host's and the
ticker's own lag)."""


def _idle() -> None:
    os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))


class _TimedRecorder(Recorder):
    """The Recorder under test, with each write's wall span and thread CPU noted."""

    def __init__(
        self, records: RecordSink, hot: str, *, nice: int, write: bool = True
    ) -> None:
        super().__init__(records, hot, writer_nice=nice)
        self.write = write
        self.spans: list[tuple[int, int]] = []
        self.writer_cpu_s = 0.0
        self.writer_nice = 0

    def _write(self, batch: Batch) -> None:
        self.writer_nice = os.getpriority(os.PRIO_PROCESS, 0)
        cpu = time.thread_time()
        start = time.monotonic_ns()
        if self.write:
            super()._write(batch)
        self.spans.append((start, time.monotonic_ns()))
        self.writer_cpu_s += time.thread_time() - cpu


def _recorder(variant: str, run_dir: Path) -> _TimedRecorder:
    if variant not in VARIANTS:
        raise SystemExit(f"unknown variant {variant!r}; known: {', '.join(VARIANTS)}")
    sink = RecordSink(run_dir, "bench", "platform")
    nice = WRITER_NICE if variant == "nice19" else 0
    recorder = _TimedRecorder(sink, "sent_frames", nice=nice, write=variant != "none")
    if variant == "small":
        recorder.flush_rows = 5_000
    if variant == "idle":
        recorder._executor.submit(_idle).result()
    return recorder


async def _tick(
    recorder: Recorder, rate: int, seconds: float, busy: float
) -> tuple[list[int], list[int]]:
    """The 1 ms ticker: add the rows due since the last tick, then keep the loop busy
    for ``busy`` of a tick (the sender's own work); return each tick's due time and
    lateness (ns)."""
    busy_ns = int(busy * TICK_NS)
    loop = asyncio.get_running_loop()
    dues: list[int] = []
    lateness: list[int] = []
    sids = [f"MZ{i:032x}" for i in range(STREAMS)]
    start = time.monotonic_ns()
    end = start + int(seconds * 1e9)
    due = start
    written = 0
    chunk = 0
    while due < end:
        due += TICK_NS
        fired = loop.create_future()
        loop.call_at(due / 1e9 - time.monotonic() + loop.time(), fired.set_result, None)
        await fired
        now = time.monotonic_ns()
        dues.append(due)
        lateness.append(now - due)
        target = (now - start) * rate // 1_000_000_000
        add = recorder.add
        while written < target:
            sid = sids[written % STREAMS]
            if written % STREAMS == 0:
                chunk += 1
            add("sent_frames", (sid, "inbound", chunk, chunk + 1, due, now, 160, now))
            written += 1
        spin = time.monotonic_ns() + busy_ns
        while time.monotonic_ns() < spin:
            pass
    return dues, lateness


async def _child(
    variant: str, rate: int, seconds: float, busy: float
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-flush-") as tmp:
        recorder = _recorder(variant, Path(tmp))
        runtime.settle()
        stop = asyncio.Event()
        interval = 0.1 if variant == "small" else 1.0
        flusher = asyncio.create_task(recorder.run(interval, stop))
        cpu = time.thread_time()
        dues, lateness = await _tick(recorder, rate, seconds, busy)
        loop_cpu = time.thread_time() - cpu
        stop.set()
        await flusher
        await recorder.close()
        parts = len(list(Path(tmp, "records", "sent_frames").glob("*.parquet")))
    lag = np.array(lateness, dtype=np.int64)
    late = np.array(dues, dtype=np.int64)[lag >= LATE_NS]
    during = sum(any(a - LATE_NS <= t <= b for a, b in recorder.spans) for t in late)
    return {
        "variant": variant,
        "rate": rate,
        "ticks": len(lag),
        "lag_p50_ms": float(np.percentile(lag, 50)) / 1e6,
        "lag_p99_ms": float(np.percentile(lag, 99)) / 1e6,
        "lag_p999_ms": float(np.percentile(lag, 99.9)) / 1e6,
        "lag_max_ms": float(lag.max()) / 1e6,
        "late_ticks": int(len(late)),
        "late_in_write": int(during),
        "writes": len(recorder.spans),
        "write_wall_s": sum(b - a for a, b in recorder.spans) / 1e9,
        "write_max_ms": max((b - a for a, b in recorder.spans), default=0) / 1e6,
        "writer_cpu_s": round(recorder.writer_cpu_s, 4),
        "loop_cpu_s": round(loop_cpu, 4),
        "loop_nice": os.getpriority(os.PRIO_PROCESS, 0),
        "writer_nice": recorder.writer_nice,
        "parts": parts,
    }


def _run_child(argv: list[str], cpu: int | None, timeout: float) -> dict[str, Any]:
    command = [sys.executable, __file__, *argv]
    if cpu is not None and hasattr(os, "sched_setaffinity"):
        command = ["taskset", "-c", str(cpu), *command]
    proc = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise
    if proc.returncode != 0:
        raise RuntimeError(f"child {argv} failed: {err[-2000:]}")
    doc = json.loads(out.strip().splitlines()[-1])
    assert isinstance(doc, dict)
    return doc


_FIGURES = (
    "lag_p99_ms",
    "lag_p999_ms",
    "lag_max_ms",
    "late_ticks",
    "late_in_write",
    "writer_cpu_s",
)


def _summary(runs: list[dict[str, Any]], ab: Sequence[str]) -> dict[str, Any]:
    medians: dict[str, dict[str, float]] = {}
    for run in runs:
        medians.setdefault(f"{run['variant']}@{run['rate']}", {})
    for key in medians:
        mine = [r for r in runs if f"{r['variant']}@{r['rate']}" == key]
        medians[key] = {
            f: float(statistics.median(r[f] for r in mine)) for f in _FIGURES
        }
    ratios: dict[str, dict[str, float | None]] = {}
    a = ab[0]  # every other variant against the first
    for b in ab[1:]:
        for rate in sorted({r["rate"] for r in runs}):
            ma, mb = medians.get(f"{a}@{rate}"), medians.get(f"{b}@{rate}")
            if ma and mb:
                ratios[f"{b}/{a}@{rate}"] = {
                    f: (round(mb[f] / ma[f], 3) if ma[f] else None) for f in _FIGURES
                }
    return {"medians": medians, "ratios": ratios}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--rates", default="25000,50000", help="rows/s, comma-separated"
    )
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--ab", default="nice0,nice19", help=f"variants to alternate, of {VARIANTS}"
    )
    parser.add_argument(
        "--cpu", type=int, default=1, help="pin each child here; -1: no pin"
    )
    parser.add_argument(
        "--busy", type=float, default=0.6, help="share of each 1 ms tick the loop works"
    )
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        variant, rate, seconds, busy = args.child
        doc = uvloop.run(_child(variant, int(rate), float(seconds), float(busy)))
        print(json.dumps(doc))
        return 0
    ab = [v for v in args.ab.split(",") if v]
    rates = [int(r) for r in args.rates.split(",") if r]
    cpu = None if args.cpu < 0 or (os.cpu_count() or 1) <= args.cpu else args.cpu
    runs: list[dict[str, Any]] = []
    for round_ in range(args.rounds):
        for rate in rates:
            order = ab if round_ % 2 == 0 else ab[::-1]
            for variant in order:
                doc = _run_child(
                    ["--child", variant, str(rate), str(args.seconds), str(args.busy)],
                    cpu,
                    timeout=args.seconds * 3 + 60,
                )
                doc["round"] = round_
                runs.append(doc)
                print(json.dumps(doc), file=sys.stderr, flush=True)
    load = os.getloadavg()
    print(json.dumps({"runs": runs, **_summary(runs, ab), "load": load, "cpu": cpu}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
