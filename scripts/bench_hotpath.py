"""The Python the platform spends around each paced frame, A/B across source trees.

    .venv/bin/python scripts/bench_hotpath.py                     # this tree
    .venv/bin/python scripts/bench_hotpath.py /tmp/main-tree . /tmp/main-tree .

Per tree (each in its own process, pinned to CPU 1 like the platform in
``scripts/bench_platform.py``): 500 live single-track PCMU streams, 25 per 1 ms
bucket as the platform's ticker holds them, every chunk formatted and logged
into the platform's send log (``Recorder(buffer=SendLog)``) and handed to a
C-level stand-in for picows's ``send`` (``dict.get``: no socket, no TLS). Runs
the tree's own per-bucket step: its lanes' bucket pass when it has one
(``harness.platform.lane.run_bucket``), else its streamers' (``Streamer.tick_bucket``),
else a ``tick`` call and a re-bucketing per job, as its ``Ticker._run`` does. Prints the thread CPU time per frame: median and
least of 7 passes of 20 chunks per stream, the collector off. Bounded: 70,000
frames per tree, no network.

Why: the platform's distance to the bare sender was its Python per frame
(docs/performance.md "The platform's frame in bytes and its bucket pass");
whole-process CPU per message moves 15-30 % between runs on a shared host, this
figure a few %.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


STREAMS = 500
CHUNKS = 20
PASSES = 7

_CHILD = r"""
import gc, os, sys, tempfile, time
from pathlib import Path
sys.path.insert(0, os.getcwd())
from tests.benchmarks.test_platform_hotpath import _live_streamers
from harness.io.recorder import Recorder
from harness.io.sink import RecordSink
from harness.platform.sendlog import SendLog
from harness.platform import ticker as tmod
from harness.platform.streamer import Streamer

STREAMS, CHUNKS, PASSES = map(int, sys.argv[1:4])
R = tmod.RESOLUTION_NS
with tempfile.TemporaryDirectory() as tmp:
    recorder = Recorder(RecordSink(Path(tmp), "bench", "platform"), "sent_frames", buffer=SendLog)
    streams = _live_streamers(recorder, STREAMS)
    for s in streams:
        s._ws.send_frame = {}.get  # picows's send is C: so is its stand-in
    try:
        from harness.platform.lane import Lane, run_bucket as burst
        kind = "lane pass"
        jobs_of = [
            Lane(s, s._ws, s.sender, recorder, s._counters, 0) for s in streams
        ]
        for s, lane in zip(streams, jobs_of):
            s._lane = lane
    except ImportError:
        burst = getattr(Streamer, "tick_bucket", None)
        kind = "bucket pass" if burst else "tick per job"
        jobs_of = streams
    ticker = tmod.Ticker(burst=burst) if burst else tmod.Ticker()
    buckets = ticker._buckets

    def one_pass(base):
        buckets.clear()
        ticker._slots.clear()
        for i, s in enumerate(jobs_of):
            if kind == "lane pass":
                s.due = (base + i % 20) * R
            else:
                s._next_due = (base + i % 20) * R
            buckets.setdefault(base + i % 20, []).append(s)
        for slot in range(base, base + 20 * CHUNKS):
            jobs = buckets.pop(slot)
            now = slot * R
            if burst is not None:
                jobs = ticker._run_burst(burst, jobs, slot, now)
            for job in jobs:  # Ticker._run's loop
                after = job.tick(now)
                if after is not None:
                    b = buckets.get(-(-after // R))
                    if b is None:
                        buckets[-(-after // R)] = [job]
                    else:
                        b.append(job)

    gc.disable()
    times = []
    base = 1000
    for _ in range(PASSES):
        started = time.thread_time_ns()
        one_pass(base)
        times.append((time.thread_time_ns() - started) / (STREAMS * CHUNKS))
        base += 20 * CHUNKS + 40
    for s in streams:
        if getattr(s, "_lane", None) is not None:
            s._release_lane()
    sent = sum(s.frames_sent for s in streams)
    assert sent == STREAMS * CHUNKS * PASSES == len(recorder.buffer), (sent, len(recorder.buffer))
    times.sort()
    print(f"{times[len(times) // 2]:.0f} {times[0]:.0f} {kind}")
"""


def measure(tree: Path) -> str:
    """One tree's line: median and least ns per frame, and which step it ran."""
    pin = (
        (lambda: os.sched_setaffinity(0, {1}))
        if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1
        else None
    )
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, str(STREAMS), str(CHUNKS), str(PASSES)],
        cwd=tree,
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=pin,
        check=True,
    )
    return out.stdout.strip()


def main(argv: list[str]) -> int:
    trees = [Path(a).resolve() for a in argv] or [Path(__file__).resolve().parents[1]]
    print(f"{'tree':<40} {'ns/frame median':>16} {'least':>6}  step")
    for tree in trees:
        median, least, *step = measure(tree).split()
        print(f"{str(tree):<40} {median:>16} {least:>6}  {' '.join(step)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
