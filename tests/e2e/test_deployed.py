"""A run as deployed: platform, TLS terminator and load on three hosts (network namespaces).

The reference platform listens on its own host ("platform", 198.18.0.1:443,
its own certificate); nginx on a second ("edge", 198.18.0.2:443) terminates
TLS and forwards plain WebSocket and HTTP; ``streamload run`` (Locust, the
receivers and the status-callback sink, ``--services-tls off --behind-proxy``)
runs on a third ("load", 198.18.0.3) with ``--target``. The platform dials
``wss://198.18.0.2/stream`` (``/open`` for streams without a bearer token)
and posts to ``https://198.18.0.2/callbacks``, verifying the terminator's
certificate. Nothing runs on loopback: every byte crosses veths and a bridge.

The platform writes its records (the send log) into a run directory of its
own, on storage the load host reads too (here the one filesystem; on real
hosts a shared mount): ``--platform-records`` joins them into the run's own
report, so frames sent are counted and timed across hosts.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from tests.conftest import seconds
from tests.e2e import netns
from tests.e2e.runs import SECRETS, ready_line, summary, table


pytestmark = pytest.mark.e2e

PLATFORM, EDGE, LOAD = "198.18.0.1", "198.18.0.2", "198.18.0.3"
STREAM_PORT, OPEN_PORT, CALLBACK_PORT = 8001, 8002, 8003
PROJECT = str(uuid.uuid4())
TOKEN = "deployed-api-token-Hc7Rw2"
SIGNING_KEY = "deployed-signing-key-Tz5Mb9"

SETUP_LIMIT_MS = 20_000
"""Smoke's 2 s setup gate, relaxed for the run that names its conferences: each
Locust user's first request is then a start, and every user's first request
waits out the Locust process's own start-up (they all complete at one moment:
1-3 s on a busy 2-core machine, 15 s seen with the whole suite and other jobs
on it). Without ``--conference-sids`` the discovery request takes that wait,
as in an embedded run."""

NOT_APPLICABLE = {
    "WS-HANDSHAKE-002": "the receivers serve plain ws behind the terminator, so they "
    "cannot see the TLS the platform dialled; the terminator listens with TLS only and "
    "its access log shows every stream, and the platform verified its certificate",
    "WS-SID-001": "SignalWire's messages carry no top-level streamSid after start "
    "(contract §10 allows both readings), so there is nothing to compare",
    "WS-DIALECT-002": "a Twilio-dialect rule; the reference platform speaks SignalWire's",
}
"""The only rules this run cannot check, and why."""


@dataclasses.dataclass
class Deployment:
    topology: netns.Topology
    platform: netns.Host
    edge: netns.Host
    load: netns.Host
    certs: netns.Certs
    nginx: netns.Nginx
    ready: dict[str, Any]
    platform_dir: Path
    out: Path
    services: list[subprocess.Popen[bytes]]
    """The platform, stopped before its records are read."""


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[Deployment]:
    why = netns.unavailable()
    if why is not None:
        pytest.skip(why)
    topology = netns.Topology()
    try:
        platform = topology.add_host("platform", PLATFORM)
        edge = topology.add_host("edge", EDGE)
        load = topology.add_host("load", LOAD)
        certs = netns.make_certs(tmp_path / "tls", [PLATFORM, EDGE])
        platform_dir = tmp_path / "platform"
        proc = topology.spawn(
            platform,
            [
                sys.executable, "-m", "harness.run.cli", "platform",
                "--listen", f"{PLATFORM}:443", "--public",
                "--allow-dial", f"{EDGE}:443",
                "--cert-file", str(certs.cert_files[PLATFORM]),
                "--key-file", str(certs.key_files[PLATFORM]),
                "--ca-file", str(certs.ca_file), "--validate-certificate",
                "--run-dir", str(platform_dir), "--account-sid", PROJECT,
                "--max-duration", "180", "--stats-interval", "5",
            ],
            env={"SIGNALWIRE_API_TOKEN": TOKEN, "SIGNALWIRE_SIGNING_KEY": SIGNING_KEY},
            stdout=subprocess.PIPE,
            stderr=tmp_path / "platform.log",
        )  # fmt: skip
        nginx = netns.Nginx(
            topology,
            edge,
            tmp_path / "nginx",
            cert_file=certs.cert_files[EDGE],
            key_file=certs.key_files[EDGE],
            routes=[
                netns.Route("/stream", f"http://{LOAD}:{STREAM_PORT}/stream"),
                netns.Route("/open", f"http://{LOAD}:{OPEN_PORT}/stream"),
                netns.Route("/callbacks", f"http://{LOAD}:{CALLBACK_PORT}/callbacks"),
            ],
        )
        nginx.start(seconds(10))
        ready = ready_line(proc, seconds(60))
        yield Deployment(
            topology, platform, edge, load, certs, nginx, ready,
            platform_dir, tmp_path / "run", [proc],
        )  # fmt: skip
    finally:
        topology.close()
        assert netns.leftovers(topology.prefix) == []


def _start_run(
    d: Deployment, *extra: str, name_conferences: bool = True
) -> subprocess.Popen[str]:
    """``streamload run`` on the load host against the platform host, through the edge.

    ``name_conferences``: pass ``--conference-sids`` (the negative suite needs
    them), else the users discover the conferences through the API.
    """
    named = (
        ["--conference-sids", ",".join(d.ready["conferences"]),
         "--threshold", f"setup_ms.p99=<= {SETUP_LIMIT_MS}"]
        if name_conferences
        else []
    )  # fmt: skip
    env = {
        **os.environ,
        **SECRETS,
        "SIGNALWIRE_PROJECT_ID": PROJECT,
        "SIGNALWIRE_API_TOKEN": TOKEN,
        "SIGNALWIRE_SIGNING_KEY": SIGNING_KEY,
    }
    return subprocess.Popen(
        d.load.argv(
            [
                sys.executable, "-m", "harness.run.cli", "run", "--profile", "smoke",
                "--target", f"https://{PLATFORM}",
                "--target-ca-file", str(d.certs.ca_file),
                "--receiver-listen", f"{LOAD}:{STREAM_PORT}",
                "--receiver-url", f"wss://{EDGE}/stream",
                "--receiver-open-listen", f"{LOAD}:{OPEN_PORT}",
                "--receiver-url-open", f"wss://{EDGE}/open",
                "--callback-listen", f"{LOAD}:{CALLBACK_PORT}",
                "--callback-url", f"https://{EDGE}/callbacks",
                "--services-tls", "off", "--behind-proxy",
                *named, "--out", str(d.out), *extra,
            ]
        ),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
    )  # fmt: skip


def _stop_services(d: Deployment) -> None:
    """SIGTERM the platform so its last records are flushed."""
    for proc in d.services:
        netns.stop(proc)


def _unchecked(doc: dict[str, Any]) -> set[str]:
    """Rules not checked; fails naming any other rule that did not pass."""
    results = doc["conformance"]["results"]
    unchecked = {r for r, v in results.items() if v["verdict"] == "not-checked"}
    assert unchecked <= set(NOT_APPLICABLE), {
        r: results[r]["statement"] for r in unchecked - set(NOT_APPLICABLE)
    }
    failed = {
        r for r, v in results.items() if v["verdict"] not in ("pass", "not-checked")
    }
    assert failed == set(), {r: results[r]["evidence"][:2] for r in failed}
    return unchecked


def test_a_smoke_run_through_a_tls_terminator_on_another_host_passes(
    deployment: Deployment,
) -> None:
    d = deployment
    proc = _start_run(d, "--quiet", "--platform-records", str(d.platform_dir))
    stdout, stderr = proc.communicate(timeout=seconds(150))
    assert proc.returncode == 0, stderr[-3000:] + d.nginx.log_tail()
    doc = summary(d.out)
    assert doc["verdict"] == "pass"
    run = json.loads((d.out / "run.json").read_text())
    assert run["target"] == f"https://{PLATFORM}/api/laml/2010-04-01"
    # Every rule was checked but those that cannot apply here, status callbacks
    # (through the terminator to the run's own sink, signatures over the public
    # URL) included.
    assert _unchecked(doc) == set(NOT_APPLICABLE)
    results = doc["conformance"]["results"]
    assert results["CB-004"]["checks"] > 0 and results["REST-STOP-002"]["checks"] > 0
    # The platform's send log, joined from its host, is in the run's own report.
    accounting = doc["accounting"]
    assert accounting["frames_sent"] == accounting["frames_received"] > 0
    assert accounting["unaccounted"] == 0
    latency = [g for g in doc["thresholds"] if g["name"] == "latency_ms.p99"]
    assert latency and all(g["result"] == "pass" for g in latency), latency
    assert any("platform records joined" in e["what"] for e in run["events"])
    _stop_services(d)  # the platform flushes its last records
    # The receivers got every frame the platform sent, across hosts.
    sent = pq.read_table(d.platform_dir / "records" / "sent_frames").to_pylist()
    received = table(d.out, "frames")
    assert sent and received
    key = ("stream_sid", "track", "chunk")
    assert sorted(tuple(f[k] for k in key) for f in received) == sorted(
        tuple(f[k] for k in key) for f in sent if f["wire_ns"] > 0
    )
    # Every connection crossed the terminator: the platform dialled the edge.
    access = (d.nginx.directory / "access.log").read_text().splitlines()
    for path, status in (
        ("/stream", " 101 "),
        ("/open", " 101 "),
        ("/callbacks", " 200 "),
    ):
        assert any(
            line.startswith(PLATFORM) and f" {path} " in line and status in line
            for line in access
        ), (path, access[:5])
    leaks = [
        p
        for p in d.out.rglob("*")
        if p.is_file()
        and any(s.encode() in p.read_bytes() for s in (TOKEN, SIGNING_KEY))
    ]
    assert leaks == []


def test_a_terminator_killed_midway_leaves_a_report_saying_what_failed_when(
    deployment: Deployment,
) -> None:
    d = deployment
    proc = _start_run(
        d, "--duration", "12s", "--negative", "off", name_conferences=False
    )
    assert proc.stderr is not None
    deadline = time.monotonic() + seconds(60)
    flowing = False
    for line in proc.stderr:  # frames flow through the edge: then kill it
        if "frames received" in line and "frames received 0 " not in line:
            flowing = True
            break
        assert time.monotonic() < deadline, "no progress line with frames"
    assert flowing, "the run ended before a progress line showed frames"
    d.nginx.kill()
    killed_at = time.monotonic()
    stdout, stderr = proc.communicate(timeout=seconds(150))
    # The platform's streams failed (it could not reach the receivers): a gate
    # fails, exit 1; the harness itself did not (that would be 3).
    assert proc.returncode == 1, stderr[-3000:]
    assert "gate failed: accounting.unaccounted" in stderr
    doc = summary(d.out)
    assert doc["verdict"] == "fail"
    spans = doc["timeline"]["stream_incidents"]
    assert spans and spans[0]["from_s"] > 0, doc["timeline"]
    text = (d.out / "report.md").read_text()
    section = text.split("## What failed and when", 1)[1]
    assert "never reached a receiver" in section or "cut before stop" in section
    assert time.monotonic() - killed_at < seconds(120)
    # The platform's own records give the cause: it could not dial the edge
    # any more, or lost the connection to it.
    _stop_services(d)
    ended = pq.read_table(d.platform_dir / "records" / "platform_streams").to_pylist()
    lost = [
        s
        for s in ended
        if (s["end_reason"] == "connect-failed" and f"'{EDGE}', 443" in s["error"])
        or s["end_reason"] == "disconnected"
    ]
    assert lost, {(s["end_reason"], s["error"]) for s in ended}
