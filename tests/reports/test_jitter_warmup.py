"""``jitter_ms`` does not depend on how long streams are held (issue 10).

The same i.i.d. extra delay per frame is put on many 2 s streams and on one long
stream; each goes through the receiver's session (which records the RFC 3550
estimate per frame, NaN in the warm-up) and the report. Each report's
percentiles must equal RFC 3550 as written out here from the send log (each
frame's wire time), independently of the harness code, past the same warm-up.

That this reference reads the same for short and long holds is then checked on
ten times as many frames as go through the harness: at the harness's sizes
(7,200 and 19,936 settled frames, each estimate correlated over ~16 frames) the
two p50s differ by sampling alone by ~2 % (one standard deviation), so a 5 %
bound there failed now and then (CI, 2026-12-03: 8.4 % apart; at exponential
delays of 10 ms one draw reads 6.4 % apart in the reference itself, 1.2 % at
ten times the frames). Ten times the frames puts that spread near 0.6 %. Over every frame, as before,
the short streams read far lower: that is the difference the warm-up removes,
checked too so the test can fail.
"""

from __future__ import annotations

import json
import random
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import given, settings, strategies as st

from harness.core.codecs import FRAME_NS
from harness.core.metrics.jitter import WARMUP_FRAMES
from harness.core.records import MemorySink
from harness.core.session import StreamSession
from reports.load import load_run
from reports.summary import build_report
from tests.receivers.helpers import stream_messages
from tests.reports.helpers import DEFAULT_THRESHOLDS, MS, T0, RunBuilder


SHORT_STREAMS, SHORT_FRAMES = 200, 100  # 2 s holds
LONG_FRAMES = 20_000  # one 400 s hold
SAMPLE = 10  # the reference's hold comparison: SAMPLE times the frames


def delays(shape: str, scale_ns: float, n: int, rng: random.Random) -> list[int]:
    """``n`` i.i.d. extra delays, never negative."""
    if shape == "uniform":
        return [int(rng.random() * scale_ns) for _ in range(n)]
    if shape == "normal":
        return [int(abs(rng.gauss(0.0, scale_ns))) for _ in range(n)]
    return [int(rng.expovariate(1.0 / scale_ns)) for _ in range(n)]


def reference_jitter(wire: list[tuple[int, int]]) -> list[float]:
    """RFC 3550 A.8 over one track's (wire time, chunk), written out apart from
    the harness: J starts at 0, J += (|D| - J) / 16 in arrival order, D the change
    of transit (wire time - media time). Returns J after each frame past the first
    ``WARMUP_FRAMES`` frames."""
    ordered = sorted(wire)
    estimates = []
    j, previous = 0.0, None
    for at, chunk in ordered:
        transit = at - (chunk - 1) * FRAME_NS
        if previous is not None:
            j += (abs(transit - previous) - j) / 16.0
        previous = transit
        estimates.append(j)
    return estimates[WARMUP_FRAMES:]


def run_streams(
    root: Path, n_streams: int, frames: int, shape: str, scale_ns: float, seed: int
) -> tuple[dict[str, Any], list[float]]:
    """Stream through a session, report; return ``jitter_ms`` and the reference's values."""
    rng = random.Random(seed)
    build = RunBuilder(root)
    reference: list[float] = []
    for s in range(n_streams):
        sid, messages = stream_messages(frames)
        head, media, tail = messages[:2], messages[2:-1], messages[-1:]
        first_ns = T0 + s * 7 * MS
        extra = delays(shape, scale_ns, frames, rng)
        wire = [
            (first_ns + k * FRAME_NS + extra[k], k + 1) for k in range(frames)
        ]  # the send log: chunk k + 1 on the wire
        for k, (at, chunk) in enumerate(wire):
            build.sent(sid, "inbound", chunk, at - extra[k])
        reference += reference_jitter(wire)
        session, sink = StreamSession(first_ns - MS), MemorySink()
        for text in head:
            session.receive(text, first_ns - MS, sink)
        for at, chunk in sorted(wire):  # arrival order
            session.receive(media[chunk - 1], at, sink)
        session.receive(tail[0], max(at for at, _ in wire) + MS, sink)
        session.close(max(at for at, _ in wire) + 2 * MS, 1000, sink)
        for table in ("frames", "streams"):
            for row in sink.rows[table]:
                build.receiver.add(table, row)
        assert json.loads(media[0])["media"]["chunk"] == "1"
    report = build_report(load_run(build.write()), DEFAULT_THRESHOLDS)
    jitter: dict[str, Any] = report.summary["performance"]["codecs"]["PCMU"][
        "jitter_ms"
    ]
    return jitter, reference


def reference_ms(
    n_streams: int, frames: int, shape: str, scale_ns: float, seed: int
) -> dict[str, float]:
    """p50 and p90 of the reference's settled estimates, in ms, for
    ``n_streams`` holds of ``frames`` frames with the same delays as ``run_streams``."""
    rng = random.Random(seed)
    values: list[float] = []
    for _ in range(n_streams):
        extra = delays(shape, scale_ns, frames, rng)
        values += reference_jitter(
            [(k * FRAME_NS + extra[k], k + 1) for k in range(frames)]
        )
    return {
        "p50": float(np.quantile(values, 0.5)) / MS,
        "p90": float(np.quantile(values, 0.9)) / MS,
    }


def all_frames_p50_ms(
    n_streams: int, frames: int, shape: str, scale_ns: float, seed: int
) -> float:
    """The old definition: p50 of the estimate over every frame, warm-up included."""
    rng = random.Random(seed)
    values = []
    for _ in range(n_streams):
        extra = delays(shape, scale_ns, frames, rng)
        # (arrival, transit) in arrival order; transit is the extra delay
        transit = sorted((k * FRAME_NS + extra[k], extra[k]) for k in range(frames))
        j, previous = 0.0, None
        for _, t in transit:
            if previous is not None:
                j += (abs(t - previous) - j) / 16.0
            previous = t
            values.append(j)
    return float(np.quantile(values, 0.5)) / MS


@settings(max_examples=4, deadline=None)
@given(
    st.sampled_from(["uniform", "normal", "exponential"]),
    st.floats(1.0, 20.0),
    st.integers(0, 2**31),
)
def test_short_and_long_holds_give_the_same_jitter(
    shape: str, scale_ms: float, seed: int
) -> None:
    scale_ns = scale_ms * MS
    with tempfile.TemporaryDirectory() as tmp:
        short, short_ref = run_streams(
            Path(tmp) / "short", SHORT_STREAMS, SHORT_FRAMES, shape, scale_ns, seed
        )
        long, long_ref = run_streams(
            Path(tmp) / "long", 1, LONG_FRAMES, shape, scale_ns, seed + 1
        )
    # every frame accounted for: settled ones in the percentiles, the rest counted
    assert short["count"] == SHORT_STREAMS * (SHORT_FRAMES - WARMUP_FRAMES)
    assert short["warmup_frames"] == SHORT_STREAMS * WARMUP_FRAMES
    assert (long["count"], long["warmup_frames"]) == (
        LONG_FRAMES - WARMUP_FRAMES,
        WARMUP_FRAMES,
    )
    for got, ref in ((short, short_ref), (long, long_ref)):
        for label, q in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99)):
            want = float(np.quantile(ref, q)) / MS
            assert abs(got[label] - want) <= 0.0015, (label, got, want)
    # the reference, so the report too, reads the same for short and long holds
    many_short = reference_ms(
        SAMPLE * SHORT_STREAMS, SHORT_FRAMES, shape, scale_ns, seed
    )
    one_long = reference_ms(1, SAMPLE * LONG_FRAMES, shape, scale_ns, seed + 1)
    for label in ("p50", "p90"):
        assert abs(many_short[label] - one_long[label]) <= 0.05 * one_long[label], (
            label,
            many_short,
            one_long,
        )
    # over every frame, the 2 s holds read well below the long one
    old = all_frames_p50_ms(SAMPLE * SHORT_STREAMS, SHORT_FRAMES, shape, scale_ns, seed)
    assert old < 0.95 * one_long["p50"], (old, one_long)
