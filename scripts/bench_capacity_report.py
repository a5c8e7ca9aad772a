"""The capacity report of a stepped run against a plain report of the same records.

    .venv/bin/python scripts/bench_capacity_report.py                 # 20 levels, ~4.6 M frames
    .venv/bin/python scripts/bench_capacity_report.py --levels 5 --every 10 --keep /tmp/cap

Writes a synthetic run the way the built-in ``capacity`` profile steps the
load: ``--levels`` levels of ``--every`` seconds, ``--step`` new both-track
PCMU streams per level (10, 20, ... 200 concurrent), each held to the end of
the run, paced at 20 ms with a little transit jitter and 0.05 % loss: the send
log, the platform's and receivers' streams, start and stop requests, audio
samples (one a second per track, the real reference tone) and ``shape.json``
with the levels. Then runs the report step twice, each as its own child
process: ``python -m reports RUN_DIR --profile default`` (plain: no capacity
section) and ``python -m reports RUN_DIR`` (the run's ``capacity`` profile:
every level gated), and prints both wall and CPU times, peak resident memory
(``ru_maxrss`` of each child) and the ratios. Generation is not timed.

Run benchmarks one at a time on a shared machine:
``flock /tmp/streamload-bench.lock .venv/bin/python scripts/bench_capacity_report.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import pyarrow as pa


ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.core.audio import encoded_frames  # noqa: E402
from harness.core.codecs import get_codec  # noqa: E402
from harness.io.profile_file import load_profile  # noqa: E402
from harness.io.sink import RecordSink  # noqa: E402


MS = 1_000_000
SECOND = 1000 * MS
T0 = 10**12


def write_run(root: Path, levels: int, step: int, every_s: float, seed: int = 7) -> int:
    """Write the stepped run and its ``shape.json``; return the frames received."""
    rng = np.random.default_rng(seed)
    scenario = RecordSink(root, "scenario-1", "scenario")
    platform = RecordSink(root, "platform-1", "platform")
    receiver = RecordSink(root, "receiver-0-1", "receiver")
    end_ns = T0 + int(levels * every_s * SECOND)
    tracks = pa.array(["inbound", "outbound"], pa.string())
    cycles = {t: encoded_frames(get_codec("PCMU"), t) for t in ("inbound", "outbound")}
    received = 0
    n = 0
    for level in range(levels):
        for i in range(step):
            n += 1
            sid, rid = str(uuid.uuid4()), f"req-{n}"
            sent = T0 + int((level * every_s + i * every_s / step) * SECOND)
            due = sent + 300 * MS
            chunks = max(1, (end_ns - due) // (20 * MS))
            stop = due + chunks * 20 * MS
            scenario.add(
                "requests",
                ("bench", rid, "start", "CF1", "PCMU", "both_tracks", 1, sent, sent,
                 sent + 10 * MS, 200, sid, "", "", "", ""),
            )  # fmt: skip
            scenario.add(
                "requests",
                ("bench", f"stop-{n}", "stop", "CF1", "PCMU", "both_tracks", 1, stop,
                 stop, stop + 8 * MS, 200, sid, "", "", "", ""),
            )  # fmt: skip
            platform.add(
                "platform_streams",
                (sid, "CF1", rid, "PCMU", "both_tracks", 1, sent + 10 * MS,
                 sent + 200 * MS, due, stop, chunks * 2, "stopped", ""),
            )  # fmt: skip
            receiver.add(
                "streams",
                (sid, "bench", rid, "PCMU", "both_tracks", 1, sent + 199 * MS,
                 sent + 200 * MS, due + MS, stop + 9 * MS, stop + 10 * MS, chunks * 2,
                 chunks * 320, 0, 1000, "", "", "", "", ""),
            )  # fmt: skip
            rows = chunks * 2
            k = np.arange(rows, dtype=np.int64)
            chunk = k // 2 + 1
            track = (k % 2).astype(np.int32)
            due_ns = due + (chunk - 1) * 20 * MS
            sent_ns = due_ns + rng.integers(0, 300_000, rows)
            arrival = (
                sent_ns + 400_000 + rng.exponential(300_000, rows).astype(np.int64)
            )
            sid_col = pa.array([sid] * rows, pa.string()).dictionary_encode()
            track_col = tracks.take(pa.array(track))
            platform.write_columns(
                "sent_frames",
                [sid_col, track_col, chunk, k, due_ns, sent_ns,
                 np.full(rows, 160, np.int32), sent_ns],
            )  # fmt: skip
            kept = rng.random(rows) >= 0.0005
            m = int(kept.sum())
            keep = pa.array(kept)
            receiver.write_columns(
                "frames",
                [sid_col.filter(keep), track_col.filter(keep), chunk[kept], k[kept],
                 (chunk[kept] - 1) * 20, arrival[kept], np.full(m, 160, np.int32),
                 rng.random(m) * 500_000.0],
            )  # fmt: skip
            received += m
            sampled = kept & (chunk % 50 == 1)
            names = np.array(["inbound", "outbound"])[track[sampled]]
            payloads = [
                cycles[t][(c - 1) % 50]
                for t, c in zip(names, chunk[sampled], strict=True)
            ]
            receiver.write_columns(
                "audio_samples",
                [sid_col.filter(pa.array(sampled)), pa.array(names), chunk[sampled],
                 pa.array(["PCMU"] * len(payloads)), pa.array(payloads, pa.binary())],
            )  # fmt: skip
    for sink in (scenario, platform, receiver):
        sink.flush()
    shape = {
        "kind": "step",
        "start_ns": T0,
        "users": levels * step,
        "duration_s": levels * every_s,
        "levels": [
            {
                "users": (lv + 1) * step,
                "from_s": lv * every_s,
                "to_s": (lv + 1) * every_s,
            }
            for lv in range(levels)
        ],
    }
    (root / "shape.json").write_text(json.dumps(shape), encoding="utf-8")
    profile = load_profile("capacity").document()
    (root / "profile.json").write_text(json.dumps(profile), encoding="utf-8")
    return received


def report(root: Path, *extra: str) -> tuple[float, float, float, int]:
    """Wall seconds, CPU seconds, peak RSS in MB and exit code of one report step.

    CPU time (user + system of the child) is what to compare on a shared
    machine: other jobs stretch the wall time, not the work."""
    started = time.monotonic()
    child = subprocess.Popen(
        [sys.executable, "-m", "reports", str(root), "--quiet", *extra],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    cpu = usage.ru_utime + usage.ru_stime
    return time.monotonic() - started, cpu, usage.ru_maxrss / 1024, child.returncode


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--levels", type=int, default=20)
    p.add_argument("--step", type=int, default=10, help="new streams per level")
    p.add_argument("--every", type=float, default=20.0, help="seconds per level")
    p.add_argument("--keep", type=Path, help="write the run here and keep it")
    p.add_argument("--reuse", action="store_true", help="report on the run in --keep")
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-capacity-") as tmp:
        root = args.keep or Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        if not (args.reuse and (root / "shape.json").is_file()):
            write_run(root, args.levels, args.step, args.every)
        frames = sum(1 for _ in (root / "records" / "frames").glob("*.parquet"))
        plain_s, plain_cpu, plain_mb, plain_exit = report(root, "--profile", "default")
        cap_s, cap_cpu, cap_mb, cap_exit = report(root)
        summary = json.loads((root / "summary.json").read_text())
        capacity = summary.get("capacity", {})
        print(
            json.dumps(
                {
                    "levels": len(capacity.get("levels", [])),
                    "frames_received": summary["accounting"]["frames_received"],
                    "frame_parts": frames,
                    "plain_report_s": round(plain_s, 1),
                    "plain_cpu_s": round(plain_cpu, 1),
                    "plain_peak_rss_mb": round(plain_mb, 1),
                    "capacity_report_s": round(cap_s, 1),
                    "capacity_cpu_s": round(cap_cpu, 1),
                    "capacity_peak_rss_mb": round(cap_mb, 1),
                    "ratio_wall": round(cap_s / plain_s, 2),
                    "ratio_cpu": round(cap_cpu / plain_cpu, 2),
                    "exits": [plain_exit, cap_exit],
                }
            )
        )
    return 0 if plain_exit in (0, 1) and cap_exit in (0, 1) else 1


if __name__ == "__main__":
    sys.exit(main())
