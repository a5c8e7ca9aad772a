"""How long the report step takes, and how much memory, over a run of N million frames.

    .venv/bin/python scripts/bench_report.py --frames 6            # 6 M frames
    .venv/bin/python scripts/bench_report.py --frames 60 --keep /tmp/big
    .venv/bin/python scripts/bench_report.py --keep /tmp/big --reuse   # report only

Writes a synthetic run directory the way the producers do (Parquet parts
through the record schemas): ``--streams`` both-track PCMU streams paced at
20 ms with a little transit jitter and 0.05 % loss, the platform's send log
and streams, the receivers' streams, audio samples (one a second per track,
the real reference tone), health rows and histograms. Then runs
``python -m reports RUN_DIR`` as a child process and prints its wall time and
peak resident memory (``ru_maxrss`` of the child). Generation is bounded in
memory (5 M rows a part) and not timed; ``--reuse`` skips it when ``--keep``
already holds a run (60 M frames take minutes to write), and
``--generate-only`` writes the run without reporting on it. ``--order
arrival`` interleaves the streams' frames as receivers record them (the
report's sorts then have more to do).

Run benchmarks one at a time on a shared machine:
``flock /tmp/streamload-bench.lock .venv/bin/python scripts/bench_report.py ...``.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq


ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.core.audio import encoded_frames  # noqa: E402
from harness.core.codecs import get_codec  # noqa: E402
from harness.core.histogram import Histogram  # noqa: E402
from harness.io.sink import RecordSink  # noqa: E402


MS = 1_000_000
PART = 5_000_000
T0 = 10**12


def write_run(
    root: Path, frames_m: float, streams: int, seed: int = 7, order: str = "stream"
) -> int:
    """Write the synthetic run; return the number of received frames.

    ``order`` is the row order of the frame tables: ``stream`` (each stream's
    frames together) or ``arrival`` (every stream's chunk c before chunk c + 1,
    as receivers write them).
    """
    rng = np.random.default_rng(seed)
    total = int(frames_m * 1e6)
    chunks = max(1, total // (streams * 2))
    sids = [str(uuid.uuid4()) for _ in range(streams)]
    scenario = RecordSink(root, "scenario-1", "scenario")
    platform = RecordSink(root, "platform-1", "platform")
    receiver = RecordSink(root, "receiver-0-1", "receiver")
    first_due = T0 + np.arange(streams, dtype=np.int64) * (20 * MS // streams)
    for i, sid in enumerate(sids):
        due = int(first_due[i])
        scenario.add(
            "requests",
            ("bench", f"req-{i}", "start", "CF1", "PCMU", "both_tracks", 0, due - 300 * MS,
             due - 300 * MS, due - 290 * MS, 200, sid, "", "", "", ""),
        )  # fmt: skip
        end = due + chunks * 20 * MS
        platform.add(
            "platform_streams",
            (sid, "CF1", f"req-{i}", "PCMU", "both_tracks", 0, due - 290 * MS,
             due - 100 * MS, due, end, chunks * 2, "stopped", ""),
        )  # fmt: skip
        receiver.add(
            "streams",
            (sid, "bench", f"req-{i}", "PCMU", "both_tracks", 0, due - 100 * MS,
             due - 99 * MS, due + MS, end + MS, end + 2 * MS, chunks * 2, chunks * 320,
             0, 1000, "", "", "", "", ""),
        )  # fmt: skip
    for sink in (scenario, platform, receiver):
        sink.flush()

    # frames, a part at a time: stream-major (or chunk-major), then chunk, track
    sid_array = pa.array(sids, pa.string())
    tracks = pa.array(["inbound", "outbound"], pa.string())
    per_stream = chunks * 2
    received = 0
    rows = streams * per_stream
    for lo in range(0, rows, PART):
        n = min(PART, rows - lo)
        k = np.arange(lo, lo + n, dtype=np.int64)
        if order == "arrival":
            stream = (k // 2) % streams
            chunk = k // (2 * streams) + 1
        else:
            stream = k // per_stream
            chunk = (k % per_stream) // 2 + 1
        track = (k % 2).astype(np.int32)
        due_ns = first_due[stream] + (chunk - 1) * 20 * MS
        sent = due_ns + rng.integers(0, 300_000, n)
        arrival = sent + 400_000 + rng.exponential(300_000, n).astype(np.int64)
        sid_col = sid_array.take(pa.array(stream))
        track_col = tracks.take(pa.array(track))
        platform.write_columns(
            "sent_frames",
            [
                sid_col,
                track_col,
                chunk,
                k,
                due_ns,
                sent,
                np.full(n, 160, np.int32),
                sent,
            ],
        )
        kept = rng.random(n) >= 0.0005
        m = int(kept.sum())
        jitter = rng.random(m) * 500_000.0
        receiver.write_columns(
            "frames",
            [sid_col.filter(pa.array(kept)), track_col.filter(pa.array(kept)),
             chunk[kept], k[kept], (chunk[kept] - 1) * 20, arrival[kept],
             np.full(m, 160, np.int32), jitter],
        )  # fmt: skip
        received += m
        sampled = kept & (chunk % 50 == 1)
        names = np.array(["inbound", "outbound"])[track[sampled]]
        cycles = {
            t: encoded_frames(get_codec("PCMU"), t) for t in ("inbound", "outbound")
        }
        payloads = [
            cycles[t][(c - 1) % 50] for t, c in zip(names, chunk[sampled], strict=True)
        ]
        receiver.write_columns(
            "audio_samples",
            [sid_col.filter(pa.array(sampled)), pa.array(names), chunk[sampled],
             pa.array(["PCMU"] * len(payloads)), pa.array(payloads, pa.binary())],
        )  # fmt: skip
    # a minute of health and one histogram per metric
    seconds = max(1, chunks // 50)
    for s in range(seconds):
        receiver.add(
            "health",
            ("receiver-0-1", "receiver", T0 + s * 1000 * MS, 1000 * MS, 500 * MS,
             450 * MS, 100, 900_000, 1_500_000, 3, MS, MS // 2, 300 * 2**20),
        )  # fmt: skip
    h = Histogram()
    for v in rng.exponential(300_000, 100_000).astype(np.int64):
        h.record(int(v))
    for bucket, count in h.items():
        receiver.add(
            "histograms",
            ("receiver-0-1", "jitter_ns", "PCMU", "inbound", bucket, count),
        )
    receiver.flush()
    return received


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--frames", type=float, default=6.0, help="millions of frames sent")
    p.add_argument("--streams", type=int, default=500, help="both-track streams")
    p.add_argument("--keep", type=Path, help="write the run here and keep it")
    p.add_argument(
        "--reuse", action="store_true", help="report on the run --keep already holds"
    )
    p.add_argument("--generate-only", action="store_true", help="write, do not report")
    p.add_argument(
        "--order",
        choices=("stream", "arrival"),
        default="stream",
        help="row order of the frame tables (arrival: as receivers write them)",
    )
    args = p.parse_args()
    if args.reuse and not args.keep:
        p.error("--reuse needs --keep DIR")
    with tempfile.TemporaryDirectory(prefix="bench-report-") as tmp:
        root = args.keep or Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        if args.reuse and (root / "records" / "frames").is_dir():
            received = sum(
                pq.ParquetFile(f).metadata.num_rows
                for f in (root / "records" / "frames").glob("*.parquet")
            )
        else:
            received = write_run(root, args.frames, args.streams, order=args.order)
        written = time.monotonic() - started
        size = sum(f.stat().st_size for f in (root / "records").rglob("*.parquet"))
        if args.generate_only:
            print(
                json.dumps(
                    {"frames_received": received, "records_mb": round(size / 2**20, 1)}
                )
            )
            return 0
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "reports", str(root), "--quiet"],
            cwd=ROOT,
            check=False,
            timeout=1800,
        )
        elapsed = time.monotonic() - started
        peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        result = {
            "frames_received": received,
            "records_mb": round(size / 2**20, 1),
            "generate_s": round(written, 1),
            "report_s": round(elapsed, 1),
            "report_peak_rss_mb": round(peak_kb / 1024, 1),
            "report_exit": done.returncode,
        }
        print(json.dumps(result))
    return 0 if done.returncode in (0, 1) else 1


if __name__ == "__main__":
    sys.exit(main())
