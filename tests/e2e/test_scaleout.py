"""A run scaled out over seven hosts (network namespaces): one report, every frame counted.

The layout of docs/scale-out.md, on one machine:

* "platform" (198.18.0.1:443): the reference platform, its own certificate,
  its records (the send log) in a directory of its own;
* "lb" (198.18.0.2:443): HAProxy in TCP mode, the receivers' one public URL
  ``wss://198.18.0.2/stream``; TLS passes through, so each stream is one TCP
  connection from the platform to one receiver (``balance leastconn``);
* "rx1", "rx2" (198.18.0.3/.4:8443): ``streamload receive``, each with the
  certificate of the public address and a records directory of its own;
* "w1", "w2" (198.18.0.5/.6): Locust workers (``locust --worker``), each
  recording into a directory of its own;
* "master" (198.18.0.7): ``streamload run --remote-receivers --workers-listen``,
  which drives the Locust master against the platform host and, after the
  load, joins every other host's records (``--join-records``,
  ``--platform-records``) into one report.

Every directory is on the one filesystem here, as a network mount would be on
real hosts. Nothing runs on loopback: every byte crosses veths and a bridge.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.conftest import REPO, seconds
from tests.e2e import netns
from tests.e2e.runs import SECRETS, ready_line, summary, table


pytestmark = pytest.mark.e2e

PLATFORM, LB, RX1, RX2, W1, W2, MASTER = (f"198.18.0.{i}" for i in range(1, 8))
RX_PORT, MASTER_PORT = 8443, 5557
PROJECT = str(uuid.uuid4())
TOKEN = "scaleout-api-token-Pq3Vn8"
LOCUSTFILE = REPO / "scenarios" / "locustfile.py"
SETUP_LIMIT_MS = 20_000
"""Each Locust user's first start waits out its worker's own start-up (see
tests/e2e/test_deployed.py): a gate on a busy 2-core machine, not a finding."""


@dataclasses.dataclass
class ScaleOut:
    topology: netns.Topology
    hosts: dict[str, netns.Host]
    certs: netns.Certs
    haproxy: netns.HAProxy
    platform: subprocess.Popen[bytes]
    conferences: list[str]
    dirs: dict[str, Path]
    """Each host's own run directory."""
    logs: Path


def _env() -> dict[str, str]:
    return {
        **SECRETS,
        "SIGNALWIRE_PROJECT_ID": PROJECT,
        "SIGNALWIRE_API_TOKEN": TOKEN,
    }


def _start_platform(
    topology: netns.Topology, host: netns.Host, certs: netns.Certs, d: Path, logs: Path
) -> subprocess.Popen[bytes]:
    return topology.spawn(
        host,
        [
            sys.executable, "-m", "harness.run.cli", "platform",
            "--listen", f"{PLATFORM}:443", "--public", "--allow-dial", f"{LB}:443",
            "--cert-file", str(certs.cert_files[PLATFORM]),
            "--key-file", str(certs.key_files[PLATFORM]),
            "--ca-file", str(certs.ca_file), "--validate-certificate",
            "--run-dir", str(d), "--account-sid", PROJECT,
            "--max-duration", "120", "--stats-interval", "30",
        ],
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=logs / "platform.log",
    )  # fmt: skip


def _start_receiver(s: ScaleOut, name: str, address: str) -> None:
    s.topology.spawn(
        s.hosts[name],
        [
            sys.executable, "-m", "harness.run.cli", "receive",
            "--listen", f"{address}:{RX_PORT}",
            "--cert-file", str(s.certs.cert_files[LB]),
            "--key-file", str(s.certs.key_files[LB]),
            "--public-url", f"wss://{LB}/stream",
            "--run-dir", str(s.dirs[name]), "--producer", name,
            "--max-duration", "120", "--stats-interval", "30",
        ],
        env=_env(),
        stderr=s.logs / f"{name}.log",
    )  # fmt: skip


@pytest.fixture
def scale_out(tmp_path: Path) -> Iterator[ScaleOut]:
    why = netns.unavailable() or netns.HAProxy.unavailable()
    if why is not None:
        pytest.skip(why)
    topology = netns.Topology()
    try:
        hosts = {
            name: topology.add_host(name, address)
            for name, address in (
                ("platform", PLATFORM), ("lb", LB), ("rx1", RX1), ("rx2", RX2),
                ("w1", W1), ("w2", W2), ("master", MASTER),
            )
        }  # fmt: skip
        certs = netns.make_certs(tmp_path / "tls", [PLATFORM, LB])
        dirs = {
            name: tmp_path / name for name in ("platform", "rx1", "rx2", "w1", "w2")
        }
        logs = tmp_path / "logs"
        logs.mkdir()
        platform = _start_platform(
            topology, hosts["platform"], certs, dirs["platform"], logs
        )
        haproxy = netns.HAProxy(
            topology,
            hosts["lb"],
            tmp_path / "haproxy",
            backends={"rx1": f"{RX1}:{RX_PORT}", "rx2": f"{RX2}:{RX_PORT}"},
        )
        s = ScaleOut(topology, hosts, certs, haproxy, platform, [], dirs, logs)
        _start_receiver(s, "rx1", RX1)
        _start_receiver(s, "rx2", RX2)
        haproxy.start(seconds(10))
        conferences = ready_line(platform, seconds(60))["conferences"]
        assert isinstance(conferences, list) and conferences
        s.conferences = [str(c) for c in conferences]
        for name in ("rx1", "rx2"):
            hosts[name].wait_listening(RX_PORT, seconds(60))
        yield s
    finally:
        topology.close()
        assert netns.leftovers(topology.prefix) == []


def _start_worker(s: ScaleOut, name: str) -> subprocess.Popen[bytes]:
    """``locust --worker`` as on a worker host: its own records directory."""
    return s.topology.spawn(
        s.hosts[name],
        [
            sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--worker",
            "--master-host", MASTER, "--master-port", str(MASTER_PORT),
            "--loglevel", "WARNING",
            "--sl-workers", "2", "--sl-run-dir", str(s.dirs[name]),
            "--sl-receiver-url", f"wss://{LB}/stream",
            "--sl-ca-file", str(s.certs.ca_file),
        ],
        env=_env(),
        stderr=s.logs / f"{name}.log",
    )  # fmt: skip


def _run_master(
    s: ScaleOut, out: Path
) -> tuple[subprocess.CompletedProcess[str], list[subprocess.Popen[bytes]]]:
    """``streamload run`` on the master host; the workers join it as it starts."""
    argv = [
        sys.executable, "-m", "harness.run.cli", "run",
        "--users", "4", "--duration", "6s", "--hold", "1.5-2.5",
        "--codecs", "PCMU", "--negative", "off", "--quiet",
        "--threshold", f"setup_ms.p99=<= {SETUP_LIMIT_MS}",
        "--threshold", "latency_ms.p99=<= 250", "--threshold", "harness.saturated=off",
        "--target", f"https://{PLATFORM}", "--target-ca-file", str(s.certs.ca_file),
        "--conference-sids", ",".join(s.conferences),
        "--remote-receivers", "--receiver-url", f"wss://{LB}/stream",
        "--workers-listen", f"{MASTER}:{MASTER_PORT}", "--processes", "2",
        "--platform-records", str(s.dirs["platform"]),
        *(a for n in ("rx1", "rx2", "w1", "w2")
          for a in ("--join-records", str(s.dirs[n]))),
        "--out", str(out),
    ]  # fmt: skip
    for name in ("rx1", "rx2", "w1", "w2"):
        s.dirs[name].mkdir(exist_ok=True)
    master = s.topology.spawn(
        s.hosts["master"],
        argv,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=s.logs / "master.log",
    )
    workers = [_start_worker(s, "w1"), _start_worker(s, "w2")]
    stdout, _ = master.communicate(timeout=seconds(120))
    done = subprocess.CompletedProcess(argv, master.returncode, stdout.decode(), "")
    return done, workers


def test_a_run_over_two_workers_and_two_receivers_behind_haproxy_counts_every_frame(
    scale_out: ScaleOut, tmp_path: Path
) -> None:
    s = scale_out
    out = tmp_path / "run"
    done, workers = _run_master(s, out)
    log = (s.logs / "master.log").read_text(errors="replace")
    assert done.returncode == 0, log[-3000:] + s.haproxy.log_tail()
    # The master's quit ended the workers on their hosts: nothing lingers there.
    for worker in workers:
        worker.wait(seconds(20))
    netns.stop(s.platform)  # its last records flushed
    doc = summary(out)
    assert doc["verdict"] == "pass", doc["verdict"]
    # TLS passed through the balancer: the receivers saw what the platform dialled.
    results = doc["conformance"]["results"]
    assert results["WS-HANDSHAKE-002"]["verdict"] == "pass"
    assert {v["verdict"] for v in results.values()} <= {"pass", "not-checked"}
    # Both workers' requests, both receivers' streams are in the one report.
    producers = table(out, "producers")
    assert {p["producer"] for p in producers if p["kind"] == "receiver"} == {
        "rx1",
        "rx2",
    }
    scenario = {p["producer"] for p in producers if p["kind"] == "scenario"}
    assert len(scenario) == 2, scenario
    requests = table(out, "requests")
    by_worker = {str(r["request_id"]).rsplit("-", 1)[0] for r in requests}
    assert by_worker == scenario
    # Counts equal the platform's send log, frame by frame.
    sent = pq.read_table(s.dirs["platform"] / "records" / "sent_frames").to_pylist()
    key = ("stream_sid", "track", "chunk")
    sent_keys = sorted(tuple(f[k] for k in key) for f in sent if f["wire_ns"] > 0)
    received = sorted(tuple(f[k] for k in key) for f in table(out, "frames"))
    assert sent_keys and received == sent_keys
    accounting = doc["accounting"]
    assert accounting["frames_sent"] == accounting["frames_received"] == len(sent_keys)
    assert accounting["unaccounted"] == 0
    started = {
        r["stream_sid"] for r in requests if r["kind"] == "start" and r["status"] == 200
    }
    streamed = {r["stream_sid"] for r in table(out, "streams")}
    assert started and streamed == started
    assert accounting["requests_started_ok"] == len(started)
    # Both receiver hosts took streams, each stream on one connection to one.
    per_rx = {
        name: {r["stream_sid"] for r in table(s.dirs[name], "streams")}
        for name in ("rx1", "rx2")
    }
    assert per_rx["rx1"].isdisjoint(per_rx["rx2"])
    assert per_rx["rx1"] | per_rx["rx2"] == started
    assert min(len(v) for v in per_rx.values()) >= len(started) // 4, per_rx
    s.haproxy.close()
    sessions = s.haproxy.sessions()
    assert sum(sessions.values()) == len(started), (sessions, s.haproxy.log_tail())
    assert {k: len(v) for k, v in per_rx.items()} == sessions
    # No secret in any file of any host's directory, nor in the logs.
    files = [p for p in tmp_path.rglob("*") if p.is_file() and p.suffix != ".key"]
    leaks = [
        str(p)
        for p in files
        if any(
            secret.encode() in p.read_bytes() for secret in (TOKEN, *SECRETS.values())
        )
    ]
    assert leaks == []
