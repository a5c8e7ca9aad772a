"""Accuracy against ground truth: the report vs the reference platform's own logs.

The reference platform injects one known impairment per run (``--fault``,
seeded) and logs what it did: every frame's ``sent_ns`` (left the media
pipeline) and ``wire_ns`` (written to the socket, 0 if dropped) in
``sent_frames``, and every random event in ``impairments``. A receiver
records what arrived; the report is built from the records alone. Counts must
match the logs exactly; transit and jitter percentiles must be within 5 % or
0.2 ms of the truth, whichever is larger (issue 5, "Proven right").

The truth for transit is ``wire_ns - sent_ns``, exactly what the emulated
network added; the report's ``arrival - sent_ns`` also carries the real
loopback delivery (a fraction of a millisecond), which the tolerance absorbs.
The truth for jitter is RFC 3550 run over the send log with ``wire_ns`` as the
arrival, past each track's warm-up (its first 64 frames, as the report). The five runs go one after another (one platform and one receiver
each, a few streams for about 5 s), so that they do not load each other's
loopback; the module takes ~40 s.

Two checks per percentile. The report must equal, to its rounding, the same
percentile computed here from the raw records (``arrival - sent_ns`` joined by
frame; RFC 3550 over each track's arrivals): that holds on any host. And it
must be within the tolerance of the injected truth, which holds only where the
host's own loopback delivery (``arrival - wire_ns``, no impairment in it) is
within the tolerance at that percentile: on a busy or noisy host (a VM whose
scheduler alone wakes a process milliseconds late, scripts/bench_floor.py) the
accuracy claim (docs/performance.md: a receiver under ~75 % CPU) does not apply there,
and the test says so by skipping after every check it could judge.
"""

from __future__ import annotations

import base64
import collections
import json
import math
import os
import signal
import ssl
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.dataset as ds
import pytest

from harness.core.metrics.jitter import WARMUP_FRAMES
from harness.io.tls import TlsFiles
from harness.run.processes import Child
from reports.load import load_run
from tests.conftest import seconds
from tests.reports.helpers import build_summary


pytestmark = pytest.mark.e2e

TOKEN = "accuracy-api-token-5Jx2"
STREAMS = 3
FRAMES_EACH = 250  # 5 s of single-track media per stream
SEED = 11
FAULTS = {
    "delay": ["delay=40ms"],
    "jitter": ["jitter=uniform:20ms"],
    "loss": ["loss=0.04"],
    "duplicate": ["duplicate=0.04"],
    "reorder": ["reorder=0.02"],
}


def tolerance(truth_ms: float) -> float:
    return max(0.05 * abs(truth_ms), 0.2)


class Setup:
    """One run directory: a receiver, a platform with ``faults``, its streams."""

    def __init__(self, name: str, root: Path, tls: TlsFiles, faults: list[str]) -> None:
        self.name = name
        self.run_dir = root / name
        env = {k: v for k, v in os.environ.items() if k != "STREAMLOAD_BEARER_TOKEN"}
        env["SIGNALWIRE_API_TOKEN"] = TOKEN
        self.env = env
        self.tls = tls
        self.faults = faults
        self.ca = tls.ca_file
        self.uris: list[str] = []
        self.children: list[Child] = []

    def start(self) -> None:
        """Start its receiver and platform (a Child starts on construction)."""
        tls, env = self.tls, self.env
        name = self.name
        files = ["--cert-file", str(tls.cert_file), "--key-file", str(tls.key_file)]
        self.receiver = Child(
            f"{name}-receiver",
            ["-m", "receivers", *files, "--run-dir", str(self.run_dir),
             "--stats-interval", "0.2", "--max-duration", "120"],
            log_dir=self.run_dir / "logs", env=env,
        )  # fmt: skip
        fault_args = [a for f in self.faults for a in ("--fault", f)]
        self.platform = Child(
            f"{name}-platform",
            ["-m", "harness.platform", *files, "--ca-file", str(tls.ca_file),
             "--run-dir", str(self.run_dir), "--conferences", "1", "--seed", str(SEED),
             "--stats-interval", "0.2", "--max-duration", "120", *fault_args],
            log_dir=self.run_dir / "logs", env=env,
        )  # fmt: skip
        self.children = [self.receiver, self.platform]

    def request(self, path: str, fields: dict[str, str]) -> dict[str, Any]:
        ready = self.platform.ready
        assert ready is not None
        auth = base64.b64encode(f"{ready['account_sid']}:{TOKEN}".encode()).decode()
        base = (
            str(ready["url"]).split("/api/", 1)[0] if path.startswith("/api/") else ""
        )
        url = base + path if base else f"{ready['url']}{path}"
        req = urllib.request.Request(
            url,
            data=urllib.parse.urlencode(fields).encode(),
            headers={"Authorization": f"Basic {auth}"},
            method="POST",
        )
        context = ssl.create_default_context(cafile=str(self.ca))
        with urllib.request.urlopen(req, context=context, timeout=seconds(10)) as resp:
            body: dict[str, Any] = json.loads(resp.read())
            return body

    def start_streams(self) -> None:
        ready, receiver = self.platform.ready, self.receiver.ready
        assert ready is not None and receiver is not None
        conference = ready["conferences"][0]
        path = f"/Accounts/{ready['account_sid']}/Conferences/{conference}/Streams.json"
        for _ in range(STREAMS):
            body = self.request(
                path,
                {"Url": str(receiver["url"]), "Track": "inbound_track",
                 "StreamCodec": "PCMU"},
            )  # fmt: skip
            self.uris.append(str(body["uri"]))

    def stop_streams(self) -> None:
        for uri in self.uris:
            self.request(uri, {"Status": "stopped"})


def wait_until(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + seconds(timeout)
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.fixture(scope="module")
def runs(
    tmp_path_factory: pytest.TempPathFactory, tls_files: TlsFiles
) -> Iterator[dict[str, Path]]:
    root = tmp_path_factory.mktemp("accuracy")
    setups = {
        name: Setup(name, root, tls_files, faults) for name, faults in FAULTS.items()
    }
    target = STREAMS * FRAMES_EACH
    try:
        for s in setups.values():  # one at a time: each run alone on the loopback
            s.start()
            s.receiver.wait_ready(seconds(30))
            s.platform.wait_ready(seconds(30))
            s.start_streams()
            wait_until(
                lambda s=s: s.platform.stats.get("frames_sent", 0) >= target,
                30, f"{s.name}: {target} frames sent",
            )  # fmt: skip
            s.stop_streams()
            wait_until(
                lambda s=s: s.platform.stats.get("streams_active", 1) == 0
                and s.receiver.stats.get("streams_open", 1) == 0,
                20, f"{s.name}: streams stopped",
            )  # fmt: skip
            assert s.platform.stop(seconds(20), signal.SIGTERM) == 0
            assert s.receiver.stop(seconds(20), signal.SIGTERM) == 0
        yield {name: s.run_dir for name, s in setups.items()}
    finally:
        for s in setups.values():
            for child in s.children:
                if child.alive():
                    child.stop(5, signal.SIGKILL)


def table(run_dir: Path, name: str) -> list[dict[str, Any]]:
    path = run_dir / "records" / name
    if not path.exists():
        return []
    rows: list[dict[str, Any]] = (
        ds.dataset(str(path), format="parquet").to_table().to_pylist()
    )
    return rows


def report(run_dir: Path) -> dict[str, Any]:
    summary = build_summary(load_run(run_dir))
    pcmu: dict[str, Any] = summary["performance"]["codecs"]["PCMU"]
    return pcmu


def nearest(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def rfc3550(frames: list[tuple[int, int]]) -> list[float]:
    """A.8 over (arrival_ns, media_ns) in arrival order: the estimate after each."""
    out, j, last = [], 0.0, None
    for arrival, media in frames:
        transit = arrival - media
        if last is not None:
            j += (abs(transit - last) - j) / 16
        last = transit
        out.append(j)
    return out


def delivery_ms(run_dir: Path) -> list[float]:
    """``arrival - wire_ns`` of each frame's first arrival: the host's own loopback noise."""
    wire = {
        (r["stream_sid"], r["track"], r["chunk"]): r["wire_ns"]
        for r in table(run_dir, "sent_frames")
        if r["wire_ns"]
    }
    first: dict[tuple[str, str, int], int] = {}
    for r in table(run_dir, "frames"):
        key = (r["stream_sid"], r["track"], r["chunk"])
        first[key] = min(first.get(key, r["arrival_ns"]), r["arrival_ns"])
    return [(at - wire[k]) / 1e6 for k, at in first.items() if k in wire]


def measured_transit_ms(run_dir: Path) -> list[float]:
    """``arrival - sent_ns`` of every received frame the send log holds, from raw records."""
    sent = {
        (r["stream_sid"], r["track"], r["chunk"]): r["sent_ns"]
        for r in table(run_dir, "sent_frames")
    }
    out = []
    for r in table(run_dir, "frames"):
        key = (r["stream_sid"], r["track"], r["chunk"])
        if r["chunk"] >= 1 and key in sent:
            out.append((r["arrival_ns"] - sent[key]) / 1e6)
    return out


def measured_jitter_ms(run_dir: Path) -> list[float]:
    """RFC 3550 A.8 over each track's arrivals (media clock from the chunk), from raw records."""
    by_track: dict[tuple[str, str], list[tuple[int, int]]] = {}
    for r in sorted(table(run_dir, "frames"), key=lambda r: r["arrival_ns"]):
        by_track.setdefault((r["stream_sid"], r["track"]), []).append(
            (r["arrival_ns"], (r["chunk"] - 1) * 20_000_000)
        )
    return [
        j / 1e6 for frames in by_track.values() for j in rfc3550(frames)[WARMUP_FRAMES:]
    ]


def check_percentiles(
    run_dir: Path,
    got: dict[str, Any],
    truth: list[float],
    measured: list[float],
    what: str,
) -> None:
    """Each percentile equal to the raw records', and near the truth where the host allows.

    Skips, after every assertion, naming the percentiles the host's loopback
    noise kept from being judged against the truth.
    """
    delivery = delivery_ms(run_dir)
    unjudged = []
    for label, q in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99)):
        exact = float(np.quantile(measured, q))
        assert abs(got[label] - exact) <= 0.0015, (what, label, "raw", got, exact)
        want = nearest(truth, q)
        noise = nearest(delivery, q)
        if noise > tolerance(want):
            unjudged.append(
                f"{label} (loopback delivery {label} {noise:.2f} ms > the "
                f"{tolerance(want):.2f} ms tolerance)"
            )
            continue
        assert abs(got[label] - want) <= tolerance(want), (what, label, got, want)
    if unjudged:
        pytest.skip(
            f"{what}: every percentile equals the raw records'; against the injected "
            f"truth, not judged (host busy): {', '.join(unjudged)}"
        )


def impairments(run_dir: Path, kind: str) -> list[dict[str, Any]]:
    return [r for r in table(run_dir, "impairments") if r["kind"] == kind]


def test_loss_counts_exactly(runs: dict[str, Path]) -> None:
    run = runs["loss"]
    sent = table(run, "sent_frames")
    never_written = {
        (r["stream_sid"], r["track"], r["chunk"]) for r in sent if r["wire_ns"] == 0
    }
    injected = impairments(run, "loss")
    pcmu = report(run)
    assert len(injected) > 5  # the test means something
    assert len(never_written) == len(injected)
    assert pcmu["frames_lost"] == len(injected)
    assert pcmu["loss_ratio"] == round(len(injected) / len(sent), 6)
    assert pcmu["duplicates"] == 0 and pcmu["reordered"] == 0


def duplicate_evidence(run: Path, injected: list[dict[str, Any]]) -> str:
    """Which frames arrived twice without a log row, and the reverse."""
    arrived = collections.Counter(
        (r["stream_sid"], r["track"], r["chunk"]) for r in table(run, "frames")
    )
    logged = collections.Counter(
        (r["stream_sid"], r["track"], r["chunk"]) for r in injected
    )
    twice = {k: n - 1 for k, n in arrived.items() if n > 1}
    last: dict[str, int] = {}
    for r in table(run, "sent_frames"):
        last[r["stream_sid"]] = max(last.get(r["stream_sid"], 0), r["chunk"])
    unlogged = [(k[0][-6:], k[2], n, last.get(k[0])) for k, n in twice.items()
                if logged.get(k, 0) != n]  # fmt: skip
    silent = [(k[0][-6:], k[2], last.get(k[0])) for k in logged if k not in twice]
    return (
        f"(sid, chunk, extra copies, last chunk sent) arrived twice but not logged: "
        f"{unlogged}; logged but not seen twice: {silent}; frames "
        f"{sum(arrived.values())}, chunks sent {sum(last.values())}"
    )


def test_duplicates_count_exactly(runs: dict[str, Path]) -> None:
    run = runs["duplicate"]
    injected = impairments(run, "duplicate")
    pcmu = report(run)
    assert len(injected) > 5
    assert pcmu["duplicates"] == len(injected), duplicate_evidence(run, injected)
    assert pcmu["frames_lost"] == 0
    assert pcmu["frames"] == len(table(run, "sent_frames")) + len(injected)


def test_reordering_counts_exactly(runs: dict[str, Path]) -> None:
    run = runs["reorder"]
    injected = impairments(run, "reorder")
    pcmu = report(run)
    assert len(injected) > 2
    assert pcmu["reordered"] == len(injected)
    assert pcmu["frames_lost"] == 0 and pcmu["duplicates"] == 0


@pytest.mark.parametrize("name", ["delay", "jitter"])
def test_transit_percentiles_match_the_injected_delay(
    runs: dict[str, Path], name: str
) -> None:
    run = runs[name]
    truth = [
        (r["wire_ns"] - r["sent_ns"]) / 1e6
        for r in table(run, "sent_frames")
        if r["wire_ns"]
    ]
    latency = report(run)["latency_ms"]
    assert latency["count"] == len(truth)
    assert latency["min"] >= min(truth)  # never less than what was injected
    check_percentiles(
        run, latency, truth, measured_transit_ms(run), f"transit with {name}"
    )


def test_jitter_matches_rfc3550_over_the_send_log(runs: dict[str, Path]) -> None:
    run = runs["jitter"]
    by_track: dict[tuple[str, str], list[tuple[int, int]]] = {}
    for r in sorted(table(run, "sent_frames"), key=lambda r: r["wire_ns"]):
        by_track.setdefault((r["stream_sid"], r["track"]), []).append(
            (r["wire_ns"], (r["chunk"] - 1) * 20_000_000)
        )
    truth = [
        j / 1e6 for frames in by_track.values() for j in rfc3550(frames)[WARMUP_FRAMES:]
    ]
    jitter = report(run)["jitter_ms"]
    assert jitter["count"] == len(truth)  # past each track's warm-up
    assert jitter["warmup_frames"] == WARMUP_FRAMES * len(by_track)
    assert nearest(truth, 0.5) > 1.0  # the jitter is there to be measured
    check_percentiles(run, jitter, truth, measured_jitter_ms(run), "jitter")
