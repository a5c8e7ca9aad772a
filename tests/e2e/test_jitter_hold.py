"""``jitter_ms`` is the same for 2 s holds and long holds of the same impairment (issue 10).

One reference platform with ``--fault jitter=normal:5ms`` and one receiver.
Three PCMU streams are held 25 s while PCMA streams, six at a time, are held
2 s each, side by side, so both see the same emulated path and the same host; the
report gives ``jitter_ms`` per codec, i.e. per hold time. The two p50s must be
within 5 % of each other, and each within 5 % of RFC 3550 run over its
streams' send log (``wire_ns`` as the arrival) past the same warm-up. Before
the warm-up was left out, the 2 s holds read over 10 % lower: checked too, from
the raw arrivals, so the test can fail.

As in test_accuracy.py, the report must equal the same percentile computed
here from the raw records on any host, while the comparison with the injected
truth needs a host whose own loopback delivery noise is within the tolerance;
on a busier host that part is skipped, saying so. The module takes ~40 s.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from harness.core.codecs import FRAME_NS
from harness.core.metrics.jitter import WARMUP_FRAMES
from harness.io.tls import TlsFiles
from reports.load import load_run
from tests.conftest import seconds
from tests.e2e.test_accuracy import (
    Setup,
    delivery_ms,
    nearest,
    rfc3550,
    table,
    wait_until,
)
from tests.reports.helpers import build_summary


pytestmark = pytest.mark.e2e

LONG = ("PCMU", 3, 25.0)
"""Codec, streams, hold in seconds."""
SHORT = ("PCMA", 6, 2.0)
"""Codec, streams at a time, hold in seconds (one after another until the long holds end)."""


def start(setup: Setup, codec: str) -> str:
    ready, receiver = setup.platform.ready, setup.receiver.ready
    assert ready is not None and receiver is not None
    conference = ready["conferences"][0]
    path = f"/Accounts/{ready['account_sid']}/Conferences/{conference}/Streams.json"
    body = setup.request(
        path,
        {"Url": str(receiver["url"]), "Track": "inbound_track", "StreamCodec": codec},
    )
    return str(body["uri"])


def stop(setup: Setup, uris: list[str]) -> None:
    for uri in uris:
        setup.request(uri, {"Status": "stopped"})


@pytest.fixture(scope="module")
def run_dir(
    tmp_path_factory: pytest.TempPathFactory, tls_files: TlsFiles
) -> Iterator[Path]:
    setup = Setup(
        "jitter-hold", tmp_path_factory.mktemp("hold"), tls_files, ["jitter=normal:5ms"]
    )
    try:
        setup.start()
        setup.receiver.wait_ready(seconds(30))
        setup.platform.wait_ready(seconds(30))
        long_codec, long_streams, long_hold = LONG
        short_codec, per_wave, short_hold = SHORT
        held = [start(setup, long_codec) for _ in range(long_streams)]
        # One short stream starts every hold / per_wave seconds and is stopped
        # hold seconds later: starts and stops (a TLS handshake, REST calls on
        # the platform's loop) spread evenly, so the long and the short holds
        # see the same background, not bursts that land in one kind's frames.
        began = time.monotonic()
        ends = began + long_hold
        gap = short_hold / per_wave
        starts = [began + 0.5 + i * gap for i in range(int(long_hold / gap))]
        starts = [t for t in starts if t + short_hold < ends]
        live: list[tuple[float, str]] = []
        while starts or live:
            due = min([*starts[:1], *(t for t, _ in live[:1])])
            time.sleep(max(0.0, due - time.monotonic()))
            if live and live[0][0] <= due:
                stop(setup, [live.pop(0)[1]])
            else:
                live.append((starts.pop(0) + short_hold, start(setup, short_codec)))
        time.sleep(max(0.0, ends - time.monotonic()))
        stop(setup, held)
        wait_until(
            lambda: setup.platform.stats.get("streams_active", 1) == 0
            and setup.receiver.stats.get("streams_open", 1) == 0,
            20, "streams stopped",
        )  # fmt: skip
        assert setup.platform.stop(seconds(20), signal.SIGTERM) == 0
        assert setup.receiver.stop(seconds(20), signal.SIGTERM) == 0
        yield setup.run_dir
    finally:
        for child in setup.children:
            if child.alive():
                child.stop(5, signal.SIGKILL)


def by_track(
    rows: list[dict[str, Any]], sids: set[str], time_key: str
) -> list[list[tuple[int, int]]]:
    """(time, media time) per track of ``sids``, in order of ``time_key``."""
    tracks: dict[tuple[str, str], list[tuple[int, int]]] = {}
    for r in sorted(rows, key=lambda r: r[time_key]):
        if r["stream_sid"] in sids and r[time_key]:
            tracks.setdefault((r["stream_sid"], r["track"]), []).append(
                (r[time_key], (r["chunk"] - 1) * FRAME_NS)
            )
    return list(tracks.values())


def settled_ms(tracks: list[list[tuple[int, int]]]) -> list[float]:
    return [j / 1e6 for t in tracks for j in rfc3550(t)[WARMUP_FRAMES:]]


def test_two_second_and_long_holds_read_the_same_jitter(run_dir: Path) -> None:
    summary = build_summary(load_run(run_dir))
    codecs = summary["performance"]["codecs"]
    long, short = codecs[LONG[0]]["jitter_ms"], codecs[SHORT[0]]["jitter_ms"]
    streams = table(run_dir, "streams")
    frames = table(run_dir, "frames")
    sent = table(run_dir, "sent_frames")
    sids = {
        codec: {r["stream_sid"] for r in streams if r["codec"] == codec}
        for codec in (LONG[0], SHORT[0])
    }
    assert len(sids[LONG[0]]) == LONG[1] and len(sids[SHORT[0]]) >= 3 * SHORT[1]
    truth: dict[str, list[float]] = {}
    for codec, got in ((LONG[0], long), (SHORT[0], short)):
        arrivals = by_track(frames, sids[codec], "arrival_ns")
        assert min(len(t) for t in arrivals) > WARMUP_FRAMES  # every hold past it
        measured = settled_ms(arrivals)
        assert got["count"] == len(measured)
        assert got["warmup_frames"] == WARMUP_FRAMES * len(arrivals)
        exact = float(np.quantile(measured, 0.5))
        assert abs(got["p50"] - exact) <= 0.0015, (codec, got, exact)
        truth[codec] = settled_ms(by_track(sent, sids[codec], "wire_ns"))

    # RFC 3550 over the send log: what the emulated path did
    want = {codec: nearest(values, 0.5) for codec, values in truth.items()}
    apart = abs(want[SHORT[0]] - want[LONG[0]])
    # the definition's point: the hold time does not move it, beyond what the
    # platform itself sent differently (a busy host times the groups apart)
    assert abs(short["p50"] - long["p50"]) <= 0.05 * long["p50"] + apart, (
        short,
        long,
        want,
    )
    # and over every frame (the old definition) the 2 s holds read well below
    everything = [
        j / 1e6
        for t in by_track(frames, sids[SHORT[0]], "arrival_ns")
        for j in rfc3550(t)
    ]
    assert float(np.quantile(everything, 0.5)) < 0.95 * long["p50"]

    noise = nearest(delivery_ms(run_dir), 0.5)
    if apart > 0.05 * want[LONG[0]] and noise > 0.05 * want[LONG[0]]:
        # the platform's own send timing is the host's: a busy host sends the
        # two hold times differently, which says nothing of the receiver
        pytest.skip(
            f"jitter p50 equals the raw records' and agrees across hold times; "
            f"the send log's two hold times differ by {apart:.2f} ms on a busy host "
            f"(loopback delivery p50 {noise:.2f} ms): not judged against it"
        )
    assert apart <= 0.05 * want[LONG[0]], want
    for codec, got in ((LONG[0], long), (SHORT[0], short)):
        tolerance = 0.05 * want[codec]
        if noise > tolerance:
            pytest.skip(
                f"jitter p50 equals the raw records' and agrees across hold times; "
                f"against the send log not judged (host busy: loopback delivery p50 "
                f"{noise:.2f} ms > the {tolerance:.2f} ms tolerance)"
            )
        assert abs(got["p50"] - want[codec]) <= tolerance, (codec, got, want)
