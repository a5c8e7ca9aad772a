"""What a receiver's ``live`` object costs its event loop, a line at a time.

Synthetic traffic into a real :class:`receivers.distributions.Distributions`
(5 codecs x 2 tracks, widely spread transit and jitter values, so many
buckets: a pessimistic case), folded a flush at a time as the record writer
folds it (:meth:`Distributions.fold`), after a 10-minute soak's worth of
counts. Each line follows one flush (1 s of frames). Compares, in the same
run, the deltas the receivers send (:meth:`Distributions.live` + the JSON
line) with running totals of every count so far (what a cumulative line
would encode); also prints the fold's own cost per flush.

    .venv/bin/python scripts/bench_live.py [--soak-s 600] [--streams 50,500]

Prints one JSON object per stream count.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from harness.core.histogram import Histogram
from harness.core.lines import encode
from harness.core.live import receiver_doc
from receivers.distributions import Distributions, Frames


CODECS = ("PCMU", "PCMA", "L16", "L16@16000h", "L16@24000h")
TRACKS = ("inbound", "outbound")
FLUSH_CHUNKS = 50
"""Chunks a track receives between two lines (1 s of 20 ms frames)."""


class Traffic:
    """``streams`` two-track streams spread over :data:`CODECS`, one flush at a
    time, as the receiver's record writer hands them to ``fold``."""

    def __init__(self, streams: int, rng: np.random.Generator) -> None:
        self.rng = rng
        sids = [f"MZ{i:032x}" for i in range(streams)]
        self.codecs = {sid: CODECS[i % len(CODECS)] for i, sid in enumerate(sids)}
        self.keys = [(sid, track) for sid in sids for track in TRACKS]
        self.flushes = 0

    def flush(self) -> Frames:
        """The next second of frames: every track's next :data:`FLUSH_CHUNKS` chunks."""
        n_tracks, rng = len(self.keys), self.rng
        chunk = np.tile(
            np.arange(FLUSH_CHUNKS, dtype=np.int64) + self.flushes * FLUSH_CHUNKS + 1,
            n_tracks,
        )
        self.flushes += 1
        timestamp_ms = (chunk - 1) * 20
        n = len(chunk)
        # widely spread transit and jitter (a pessimistic case: many buckets)
        transit = rng.lognormal(np.log(2e6), 0.8, n).astype(np.int64)
        return Frames(
            self.keys,
            np.repeat(np.arange(n_tracks, dtype=np.int32), FLUSH_CHUNKS),
            chunk,
            timestamp_ms,
            1_000_000_000_000 + timestamp_ms * 1_000_000 + transit,
            rng.lognormal(np.log(5e5), 0.6, n),
        )


def measure(streams: int, soak_s: int, lines: int = 8) -> dict[str, object]:
    """Min over ``lines`` of the loop's cost of one line, both ways, and the
    writer thread's cost of folding the flush before it."""
    traffic = Traffic(streams, np.random.default_rng(1))
    dist = Distributions("bench")
    totals: dict[tuple[str, str, str], Histogram] = {}

    def fold() -> float:
        t0 = time.perf_counter()
        taken = dist.fold(traffic.flush(), traffic.codecs)
        spent = time.perf_counter() - t0
        dist.deliver(taken)
        for metric, codec, track, counts in taken.snapshot:
            totals.setdefault((metric, codec, track), Histogram()).add_counts(
                counts.items()
            )
        return spent

    for _ in range(soak_s):  # the soak's counts, a line each
        fold()
        dist.live(["PCMU"] * streams)
    fold_s, delta_s, delta_bytes, total_s, total_bytes = [], [], [], [], []
    for _ in range(lines):
        fold_s.append(fold())
        t0 = time.perf_counter()
        line = encode("stats", {"live": dist.live(["PCMU"] * streams)})
        delta_s.append(time.perf_counter() - t0)
        delta_bytes.append(len(line))
        t0 = time.perf_counter()
        cumulative = receiver_doc(
            0, {k: dict(h.counts) for k, h in totals.items()}, {}, {}, {}
        )
        line = encode("stats", {"live": cumulative})
        total_s.append(time.perf_counter() - t0)
        total_bytes.append(len(line))
    return {
        "streams": streams,
        "soak_s": soak_s,
        "fold_ms_per_flush": round(min(fold_s) * 1e3, 2),
        "delta_ms_per_line": round(min(delta_s) * 1e3, 2),
        "delta_bytes": int(np.median(delta_bytes)),
        "totals_ms_per_line": round(min(total_s) * 1e3, 2),
        "totals_bytes": int(np.median(total_bytes)),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    p.add_argument("--soak-s", type=int, default=600)
    p.add_argument("--streams", default="50,500")
    a = p.parse_args()
    for streams in (int(s) for s in a.streams.split(",")):
        print(json.dumps(measure(streams, a.soak_s)), flush=True)


if __name__ == "__main__":
    main()
