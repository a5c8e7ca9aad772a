"""What a receiver's ``live`` object costs its event loop, a line at a time.

Synthetic traffic into a real :class:`receivers.distributions.Distributions`
(5 codecs x 2 tracks, widely spread transit and jitter values, so many
buckets: a pessimistic case), after a 10-minute soak's worth of counts. Each
line follows one flush (1 s of frames). Compares, in the same run, the
deltas the receivers send (:meth:`Distributions.live` + the JSON line) with
running totals of every count so far (what a cumulative line would encode).

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
from receivers.distributions import Distributions


CODECS = ("PCMU", "PCMA", "L16", "L16@16000h", "L16@24000h")
TRACKS = ("inbound", "outbound")


def _traffic(
    dist: Distributions,
    totals: dict[tuple[str, str, str], Histogram],
    n: int,
    rng: np.random.Generator,
) -> None:
    for codec in CODECS:
        for track in TRACKS:
            for metric, median_ns, sigma in (
                ("transit_first_ns", 2e6, 0.8),
                ("jitter_ns", 5e5, 0.6),
            ):
                histogram = dist.get(metric, codec, track)
                total = totals.setdefault((metric, codec, track), Histogram())
                for value in (
                    rng.lognormal(np.log(median_ns), sigma, n).astype(np.int64).tolist()
                ):
                    histogram.record(value)
                    total.record(value)


def measure(streams: int, soak_s: int, lines: int = 8) -> dict[str, object]:
    """Min over ``lines`` of the loop's cost of one line, both ways."""
    rng = np.random.default_rng(1)
    dist = Distributions("bench")
    totals: dict[tuple[str, str, str], Histogram] = {}
    per_line = streams * 50 // len(CODECS)  # frames per (codec, track) in a second
    _traffic(dist, totals, per_line * soak_s, rng)
    dist.take()
    dist.live([])
    delta_s, delta_bytes, total_s, total_bytes = [], [], [], []
    for _ in range(lines):
        _traffic(dist, totals, per_line, rng)
        dist.take()
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
        "delta_ms_per_line": round(min(delta_s) * 1e3, 2),
        "delta_bytes": int(np.median(delta_bytes)),
        "totals_ms_per_line": round(min(total_s) * 1e3, 2),
        "totals_bytes": int(np.median(total_bytes)),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--soak-s", type=int, default=600)
    p.add_argument("--streams", default="50,500")
    a = p.parse_args()
    for streams in (int(s) for s in a.streams.split(",")):
        print(json.dumps(measure(streams, a.soak_s)), flush=True)


if __name__ == "__main__":
    main()
