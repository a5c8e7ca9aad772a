"""Stalls of ours in a producer's timed thread: old settings vs new, same run.

    .venv/bin/python scripts/bench_tails.py                       # 1,000 streams, 3 x 2 runs (~30 s)
    .venv/bin/python scripts/bench_tails.py --streams 2000 --objects 300 --repeat 2

Why (issue 14): a full receiver's ``health`` rows showed a collection of 144 ms
while 300 streams connected (``scripts/bench_receiver.py --keep DIR``, on a busy
host), where a bare receiver pays nothing of the kind. A young collection walks
every tracked object allocated since the last one that is still alive; a stream's
connection (socket, TLS, WebSocket protocol, task, session, taps) leaves a few
hundred such objects alive for as long as the stream lasts, so while streams
connect nearly everything allocated survives, and the pass is as long as the
threshold is large. ``(50_000, 20, 100)`` made each young pass walk up to 50,000
objects and each middle pass up to a million.

Method: one child process per run (a fresh interpreter, what exists at start
frozen as :func:`harness.io.runtime.settle` does), in which streams connect
(``--objects`` tracked objects each, in reference cycles, as a connection's are)
while frames flow (short-lived objects per frame, one garbage cycle per
``--cycle-every`` frames), then streams end and new ones start (their cycles become
garbage) for ``--frames`` more frames. Every collection is timed by
``gc.callbacks`` on the thread's own CPU clock (so another tenant of the
host taking the core does not lengthen a pause). Two variants, interleaved, ``--repeat`` times each:

* ``before``: ``gc.set_threshold(50_000, 20, 100)``, the old setting;
* ``after``: :data:`harness.io.runtime.GC_THRESHOLDS`.

Per run: passes per generation, the longest pause and the total; medians per
variant and after/before ratios at the end.

Then the first flush of a :class:`harness.io.sink.RecordSink` (one ``requests``
row), each variant in a fresh interpreter: ``before`` skips the warm-up at
construction (as the code before did), so Arrow's lazy imports (pandas,
``pyarrow.compute``) land in the first flush, which in a Locust process stops
every user (gevent: one thread); ``after`` is the sink as it is. On the wall clock a pause is
also as long as the host's other tenants hold the core; that is not the
collector's, so CPU time is what is compared.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.io import runtime  # noqa: E402


VARIANTS: dict[str, tuple[int, int, int]] = {
    "before": (50_000, 20, 100),
    "after": runtime.GC_THRESHOLDS,
}


class _Node:
    """One tracked object of a connection's graph, pointing back at its owner."""

    __slots__ = ("owner", "peers")

    def __init__(self, owner: object) -> None:
        self.owner = owner
        self.peers: list[object] = []


def _connection(objects: int) -> list[_Node]:
    """``objects`` tracked objects (nodes and their lists) in cycles through their head."""
    head: list[_Node] = []
    for _ in range(max(1, objects // 2)):
        node = _Node(head)
        node.peers.append(node)
        head.append(node)
    return head


def child(
    variant: str, streams: int, objects: int, frames: int, cycle_every: int
) -> dict[str, Any]:
    """Long because: one bounded measurement, its setup and its figures in one place."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*VARIANTS[variant])
    pauses: dict[int, list[int]] = {0: [], 1: [], 2: []}
    started = [0]

    def on_gc(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            started[0] = time.thread_time_ns()
        else:
            pauses[int(info["generation"])].append(time.thread_time_ns() - started[0])

    gc.callbacks.append(on_gc)
    live: list[list[_Node]] = []
    sink: list[tuple[int, ...]] = []
    t0 = time.perf_counter_ns()

    def frame(i: int) -> None:
        row = (i, i + 1, i * 20, {"chunk": i})  # short-lived, tracked
        sink.append(row[:3])
        if len(sink) > 1000:
            sink.clear()
        if i % cycle_every == 0:
            a: list[object] = []
            a.append(a)  # a garbage cycle, as a future and its callback leave

    n = 0
    for _ in range(streams):  # the ramp: every stream connects, frames flow meanwhile
        live.append(_connection(objects))
        for _ in range(20):
            n += 1
            frame(n)
    for _ in range(
        frames
    ):  # steady churn: one stream ends and another starts now and then
        n += 1
        frame(n)
        if n % 200 == 0:
            live[n // 200 % len(live)] = _connection(objects)
    elapsed = time.perf_counter_ns() - t0
    gc.callbacks.remove(on_gc)
    every = [p for ps in pauses.values() for p in ps]
    return {
        "variant": variant,
        "thresholds": VARIANTS[variant],
        "passes": {str(g): len(p) for g, p in pauses.items()},
        "max_ms": round(max(every, default=0) / 1e6, 3),
        "max_ms_by_generation": {
            str(g): round(max(p, default=0) / 1e6, 3) for g, p in pauses.items()
        },
        "total_ms": round(sum(every) / 1e6, 2),
        "run_ms": round(elapsed / 1e6, 1),
    }


def first_flush(variant: str) -> dict[str, Any]:
    """CPU of making a sink and of its first flush, in this fresh interpreter."""
    import harness.io.sink as sink

    if variant == "before":
        sink._warmed.append(True)  # noqa: SLF001 - the old sink: no warm-up when made
    with tempfile.TemporaryDirectory(prefix="bench-tails-") as tmp:
        t0 = time.thread_time_ns()
        records = sink.RecordSink(Path(tmp), "scenario-1", "scenario")
        t1 = time.thread_time_ns()
        records.add("requests", ("run", "scenario-1-1", "start", "c", "PCMU",
                                 "inbound_track", 10, 1, 2, 3, 200, "sid", "", "fp",
                                 "corr", "acc"))  # fmt: skip
        records.flush()
        t2 = time.thread_time_ns()
    return {
        "variant": variant,
        "make_ms": round((t1 - t0) / 1e6, 1),
        "first_flush_ms": round((t2 - t1) / 1e6, 1),
    }


def _child_json(argv: list[str]) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, *argv], capture_output=True, text=True,
        timeout=120, cwd=ROOT, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    doc: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return doc


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--streams", type=int, default=1000)
    p.add_argument(
        "--objects", type=int, default=200, help="tracked objects a stream keeps"
    )
    p.add_argument("--frames", type=int, default=3_000_000, help="after the ramp")
    p.add_argument(
        "--cycle-every", type=int, default=50, help="frames per garbage cycle"
    )
    p.add_argument("--repeat", type=int, default=3, help="runs per variant")
    p.add_argument("--cpu", type=int, help="pin each run to this CPU")
    p.add_argument("--child", choices=sorted(VARIANTS), help=argparse.SUPPRESS)
    p.add_argument("--flush-child", choices=sorted(VARIANTS), help=argparse.SUPPRESS)
    a = p.parse_args()
    if not (1 <= a.streams <= 20_000 and 2 <= a.objects <= 2000 and 1 <= a.repeat <= 5
            and 0 <= a.frames <= 5_000_000 and a.cycle_every >= 1):  # fmt: skip
        print("bench: out-of-range flags; see --help", file=sys.stderr)
        return 2
    if a.flush_child:
        print(json.dumps(first_flush(a.flush_child)), flush=True)
        return 0
    if a.child:
        if a.cpu is not None:
            os.sched_setaffinity(0, {a.cpu})
        doc = child(a.child, a.streams, a.objects, a.frames, a.cycle_every)
        print(json.dumps(doc), flush=True)
        return 0
    print(
        json.dumps(
            {"load": os.getloadavg(), "streams": a.streams, "objects": a.objects}
        )
    )
    runs: dict[str, list[dict[str, Any]]] = {v: [] for v in VARIANTS}
    for _ in range(a.repeat):
        for variant in VARIANTS:  # interleaved: a noisy neighbour hits both alike
            argv = ["--child", variant, "--streams", str(a.streams), "--objects",
                    str(a.objects), "--frames", str(a.frames), "--cycle-every",
                    str(a.cycle_every)]  # fmt: skip
            if a.cpu is not None:
                argv += ["--cpu", str(a.cpu)]
            doc = _child_json(argv)
            runs[variant].append(doc)
            print(json.dumps(doc), flush=True)
    flushes: dict[str, list[float]] = {v: [] for v in VARIANTS}
    for _ in range(a.repeat):
        for variant in VARIANTS:
            doc = _child_json(["--flush-child", variant])
            flushes[variant].append(doc["first_flush_ms"])
            print(json.dumps(doc), flush=True)
    medians = {
        v: {k: statistics.median(r[k] for r in rs) for k in ("max_ms", "total_ms")}
        | {"first_flush_ms": statistics.median(flushes[v])}
        for v, rs in runs.items()
    }
    before, after = medians["before"], medians["after"]
    print(json.dumps({
        "medians": medians,
        "after_over_before": {
            k: round(after[k] / before[k], 3) if before[k] else None for k in before
        },
        "load": os.getloadavg(),
    }))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
