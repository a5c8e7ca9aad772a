"""Latency across two hosts whose monotonic clocks disagree by a day: still right.

The reference platform runs as another "host": its own UTS namespace (host name
``clockhost``) and its own time namespace, whose CLOCK_MONOTONIC reads
:data:`OFFSET_S` more than the machine's (``unshare --time --monotonic``, Linux
5.6+). Its send log is therefore a day ahead of the receivers' arrival stamps,
as on two machines booted at different times; the wall clock is the one both
read (as NTP would keep it). ``streamload run --target ... --platform-records``
joins its records into one report, which must align the clocks through each
producer's anchor: transit on loopback, not a day. The test recomputes the
latency itself from the raw parts and the anchors, and shows that the raw
difference (the report before clocks were aligned) is the offset.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from harness.io.tls import TlsFiles
from tests.conftest import seconds
from tests.e2e.runs import SECRETS, ready_line, summary


pytestmark = pytest.mark.e2e

OFFSET_S = 86_400
"""The platform host's monotonic clock, ahead of the load host's (one day)."""
PROJECT = str(uuid.uuid4())
TOKEN = "clocks-api-token-Rk2Yd6"


def _unavailable() -> str | None:
    """Why this machine cannot run a process in a time namespace (``None``: it can)."""
    if os.geteuid() != 0:
        return "needs root for unshare --time/--uts"
    if shutil.which("unshare") is None:
        return "no unshare (util-linux)"
    probe = subprocess.run(
        ["unshare", "--time", "--monotonic", "1000", "--uts", "cat", "/proc/uptime"],
        capture_output=True,
        text=True,
        timeout=10,
    )
    if probe.returncode != 0:
        return f"unshare --time failed: {probe.stderr.strip()[:200]}"
    return None


@pytest.fixture
def platform(tmp_path: Path, tls_files: TlsFiles) -> Iterator[tuple[str, Path]]:
    """The reference platform on "clockhost", a day ahead; its URL and run dir."""
    why = _unavailable()
    if why is not None:
        pytest.skip(why)
    run_dir = tmp_path / "platform"
    command = [
        sys.executable, "-m", "harness.platform",
        "--cert-file", str(tls_files.cert_file), "--key-file", str(tls_files.key_file),
        "--run-dir", str(run_dir), "--account-sid", PROJECT, "--max-duration", "120",
    ]  # fmt: skip
    shift = str(OFFSET_S)
    log = (tmp_path / "platform.log").open("wb")
    proc = subprocess.Popen(
        [
            "unshare",
            "--uts",
            "--time",
            "--monotonic",
            shift,
            "--boottime",
            shift,
            "sh",
            "-c",
            'hostname clockhost && exec "$@"',
            "sh",
            *command,
        ],  # fmt: skip
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=log,
        env={**os.environ, "SIGNALWIRE_API_TOKEN": TOKEN},
        start_new_session=True,
    )
    try:
        yield str(ready_line(proc, seconds(60))["url"]), run_dir
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(seconds(20))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
        log.close()


def _anchors(run: Path) -> dict[str, tuple[str, int]]:
    """Producer -> (host, wall_ns - mono_ns), straight from the producers parts."""
    rows = pq.read_table(run / "records" / "producers").to_pylist()
    return {r["producer"]: (r["host"], r["wall_ns"] - r["mono_ns"]) for r in rows}


def _raw_and_aligned_latency_ns(run: Path) -> tuple[float, float]:
    """Median arrival - send of the frames in the send log: raw, and each side
    moved by its own producer's anchor (an independent calculation)."""
    shift = {p: s for p, (_, s) in _anchors(run).items()}

    def read(table: str, column: str) -> dict[tuple[str, str, int], tuple[int, int]]:
        out: dict[tuple[str, str, int], tuple[int, int]] = {}
        for part in sorted((run / "records" / table).glob("*.parquet")):
            producer = part.name.rsplit("-", 1)[0]
            for r in pq.read_table(part).to_pylist():
                key = (r["stream_sid"], r["track"], r["chunk"])
                out.setdefault(key, (r[column], shift[producer]))
        return out

    sent = read("sent_frames", "sent_ns")
    arrived = read("frames", "arrival_ns")
    common = [k for k in arrived if k in sent]
    assert len(common) > 100, len(common)
    raw = [arrived[k][0] - sent[k][0] for k in common]
    aligned = [
        (arrived[k][0] + arrived[k][1]) - (sent[k][0] + sent[k][1]) for k in common
    ]
    return float(np.median(raw)), float(np.median(aligned))


def test_latency_across_hosts_with_a_day_between_their_clocks(
    platform: tuple[str, Path], tls_files: TlsFiles, tmp_path: Path
) -> None:
    url, platform_dir = platform
    out = tmp_path / "run"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "harness.run.cli",
            "run",
            "--profile",
            "smoke",
            "--duration",
            "4s",
            "--target",
            url,
            "--target-ca-file",
            str(tls_files.ca_file),
            "--platform-records",
            str(platform_dir),
            "--out",
            str(out),
            "--negative",
            "off",
            "--status-callback",
            "off",
            "--quiet",
        ],  # fmt: skip
        capture_output=True,
        text=True,
        timeout=seconds(120),
        stdin=subprocess.DEVNULL,
        env={
            **os.environ,
            **SECRETS,
            "SIGNALWIRE_PROJECT_ID": PROJECT,
            "SIGNALWIRE_API_TOKEN": TOKEN,
        },
    )
    assert proc.returncode in (0, 1), proc.stderr[-3000:]
    anchors = _anchors(out)
    hosts = {host for host, _ in anchors.values()}
    assert "clockhost" in hosts and len(hosts) == 2, anchors
    doc = summary(out)
    performance = doc["performance"]
    assert performance["basis"]["latency"] == (
        "send-log; clocks of 2 hosts aligned by their wall clocks: "
        "as accurate as their sync (NTP/PTP)"
    )
    raw_ns, aligned_ns = _raw_and_aligned_latency_ns(out)
    # the old report's difference: the two clocks' offset, not the transit
    assert abs(raw_ns + OFFSET_S * 1e9) < 1e9, raw_ns
    p50s = [c["latency_ms"]["p50"] for c in performance["codecs"].values()]
    assert p50s and all(p is not None and 0 <= p < 50 for p in p50s), p50s
    assert 0 <= aligned_ns / 1e6 < 50, aligned_ns
    overall = float(np.median(p50s))
    assert abs(overall - aligned_ns / 1e6) < 1.0, (p50s, aligned_ns)
