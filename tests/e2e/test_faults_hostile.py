"""Faults and hostile input, process by process (issue 13, items 6-11).

* a good stream beside hostile peers (a new 200 KB track name in every
  message, JSON nested 5,000 deep, 2 MB frames) against a real receiver
  process: the good stream loses nothing and its latency p99 stays within 2x
  of the same stream without them, measured in the same test;
* the reference platform in a network namespace that has only ``lo``: a start
  whose Url is off loopback is refused with the documented error and nothing
  is dialled, unless ``--allow-dial`` names the address;
* ``streamload report`` on a truncated part and ``streamload compare`` on a
  malformed summary: the documented exit code, the file named, no traceback.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest
from websockets.asyncio.client import connect

from tests.conftest import seconds
from tests.e2e import netns
from tests.receivers.helpers import run_async, stream_messages
from tests.reports.conftest import build_passing


pytestmark = pytest.mark.e2e

FRAMES = 200
"""Frames of each good stream: 4 s of 20 ms audio."""
ROUNDS = 2
"""Clean and attacked phases, alternating: 400 frames measured each way."""
LATENCY_FLOOR_MS = 5.0
"""Below this a p99 says nothing on a shared 2-core host: two identical clean
streams differ by more than 2x there, so the bound is 2x of at least this."""


class _Process:
    """A child started by this test: its JSON stdout lines, stopped by its pid."""

    def __init__(self, argv: list[str], env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, **(env or {})},
            text=True,
            start_new_session=True,
        )
        self.lines: list[dict[str, Any]] = []
        self._cond = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._cond:
                try:
                    self.lines.append(json.loads(line))
                except ValueError:
                    continue
                self._cond.notify_all()

    def ready(self, timeout: float = 30) -> dict[str, Any]:
        def found() -> dict[str, Any] | None:
            return next((x for x in self.lines if x.get("event") == "ready"), None)

        with self._cond:
            self._cond.wait_for(
                lambda: found() is not None or self.proc.poll() is not None,
                seconds(timeout),
            )
            line = found()
        assert line is not None, f"no ready line; stderr: {self.stop()[1]}"
        return line

    def stop(self) -> tuple[int, str]:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            code = self.proc.wait(seconds(30))
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            code = self.proc.wait()
        assert self.proc.stderr is not None and self.proc.stdout is not None
        err = self.proc.stderr.read()
        self.proc.stderr.close()
        self._reader.join(seconds(5))
        self.proc.stdout.close()
        return code, err


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def _good_stream(url: str) -> tuple[str, dict[int, int]]:
    """One paced stream (a frame each 20 ms); its sid and each chunk's send time."""
    sid, messages = stream_messages(FRAMES)
    sent: dict[int, int] = {}
    async with connect(url, ping_interval=None, compression=None) as ws:
        await ws.send(messages[0])
        await ws.send(messages[1])
        start = time.monotonic()
        for chunk, text in enumerate(messages[2:-1], start=1):
            delay = start + chunk * 0.02 - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            sent[chunk] = time.monotonic_ns()
            await ws.send(text)
        await ws.send(messages[-1])
    return sid, sent


_PEERS = textwrap.dedent(
    """
    import asyncio, base64, json, sys, time
    from websockets.asyncio.client import connect
    from harness.core.messages import media_json
    from tests.receivers.helpers import stream_messages

    url, seconds = sys.argv[1], float(sys.argv[2])
    which = sys.argv[3].split(",") if len(sys.argv) > 3 else ["tracks", "deep", "big"]

    async def growing_tracks(until):
        # media with a new 200 KB track name in every message, 20 a second
        _, messages = stream_messages(1, stop=False)
        payload = base64.b64encode(bytes(160)).decode()
        n = 0
        async with connect(url, ping_interval=None, max_size=None) as ws:
            await ws.send(messages[0])
            await ws.send(messages[1])
            while time.monotonic() < until:
                name = f"{n:08d}" + "t" * 200_000
                await ws.send(media_json(n + 2, name, 1, 0, payload))
                n += 1
                await asyncio.sleep(0.05)
        return n

    async def deep_json(until):
        deep = '{"event":"media","media":' + "[" * 5000 + "]" * 5000 + "}"
        n = 0
        async with connect(url, ping_interval=None) as ws:
            while time.monotonic() < until:
                await ws.send(deep)
                n += 1
                await asyncio.sleep(0.02)
        return n

    async def big_frames(until):
        # 2 MB frames, past the receiver's --max-size: each costs the peer its socket
        n = 0
        while time.monotonic() < until:
            try:
                async with connect(url, ping_interval=None, max_size=None) as ws:
                    await ws.send("x" * 2_000_000)
                    await ws.wait_closed()
            except Exception:
                pass
            n += 1
            await asyncio.sleep(0.5)
        return n

    async def main():
        until = time.monotonic() + seconds
        peers = {"tracks": growing_tracks, "deep": deep_json, "big": big_frames}
        sent = await asyncio.gather(*(peers[name](until) for name in which))
        print(json.dumps(sent))

    asyncio.run(main())
    """
)
"""The hostile peers, in a process of their own (as they would be): each for
the given seconds, printing how many messages each sent."""


def _p99_ms(
    frames: list[dict[str, Any]], streams: list[tuple[str, dict[int, int]]]
) -> float:
    """Latency p99 over ``streams`` (send to arrival), each of which lost nothing."""
    latency: list[int] = []
    for sid, sent in streams:
        mine = {
            int(f["chunk"]): int(f["arrival_ns"])
            for f in frames
            if f["stream_sid"] == sid
        }
        assert sorted(mine) == list(range(1, FRAMES + 1)), "a good stream lost frames"
        latency += [mine[c] - sent[c] for c in sent]
    return float(np.percentile(np.array(latency) / 1e6, 99))


def _attacked(url: str, sent_by_peer: list[int]) -> tuple[str, dict[int, int]]:
    """A good stream while the hostile peers run; adds what each peer sent."""
    attack_s = FRAMES * 0.02 + 1.5
    peers = subprocess.Popen(
        # nice 19: the peers stand for other hosts, so their own CPU (building
        # and masking 2 MB frames) stays out of the measurement on a shared host
        ["nice", "-n", "19", sys.executable, "-c", _PEERS, url, str(attack_s),
         os.environ.get("HOSTILE_PEERS", "tracks,deep,big")],
        stdout=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        time.sleep(1.0)  # the attack is on before the good stream starts
        result = run_async(lambda: _good_stream(url), timeout=30)
        out, _ = peers.communicate(timeout=seconds(30))
    finally:
        if peers.poll() is None:
            os.killpg(peers.pid, signal.SIGKILL)
            peers.wait()
        if peers.stdout is not None:
            peers.stdout.close()
    counts = json.loads(out)
    sent_by_peer[:] = [
        a + b for a, b in zip(counts, sent_by_peer or [0] * len(counts), strict=True)
    ]
    return result


def test_hostile_peers_cost_a_good_stream_nothing(tmp_path: Path) -> None:
    rx = _Process(
        [sys.executable, "-m", "receivers", "--listen", "127.0.0.1:0", "--tls", "off",
         "--run-dir", str(tmp_path), "--stats-interval", "0.5", "--max-duration", "120"],
    )  # fmt: skip
    clean: list[tuple[str, dict[int, int]]] = []
    attacked: list[tuple[str, dict[int, int]]] = []
    sent_by_peer: list[int] = []
    try:
        url = rx.ready()["url"]
        rss_before = _rss_mb(rx.proc.pid)
        # clean and attacked phases alternate, so a change in the shared
        # machine's load falls on both alike
        for _ in range(ROUNDS):
            clean.append(run_async(lambda: _good_stream(url), timeout=30))
            attacked.append(_attacked(url, sent_by_peer))
        rss_after = _rss_mb(rx.proc.pid)
    finally:
        code, err = rx.stop()
    assert code == 0, err
    assert "Traceback" not in err
    assert min(sent_by_peer) >= 5, sent_by_peer  # every hostile peer really ran
    # ~250 names of 200 KB were sent: kept, they would be 50 MB and more
    assert rss_after - rss_before < 40, (rss_before, rss_after)
    frames = pq.read_table(tmp_path / "records" / "frames").to_pylist()
    clean_p99 = _p99_ms(frames, clean)
    attacked_p99 = _p99_ms(frames, attacked)
    print(
        f"good stream latency p99: clean {clean_p99:.2f} ms, attacked {attacked_p99:.2f} ms"
    )
    assert attacked_p99 <= 2 * max(clean_p99, LATENCY_FLOOR_MS), (
        clean_p99,
        attacked_p99,
    )
    assert all(len(str(f["track"])) <= 256 for f in frames)
    violations = pq.read_table(tmp_path / "records" / "violations").to_pylist()
    rules = {v["rule"] for v in violations}
    assert {"WS-LIMIT-001", "WS-JSON-001", "WS-MEDIA-001"} <= rules
    good = {sid for sid, _ in clean + attacked}
    assert not [v for v in violations if v["subject"] in good]
    streams = pq.read_table(tmp_path / "records" / "streams").to_pylist()
    codes = {s["close_code"] for s in streams}
    assert 1009 in codes  # the 2 MB frames: "message too big", by the library
    assert 1011 not in codes  # no receiver error on the deep JSON


_CLIENT = textwrap.dedent(
    """
    import base64, json, ssl, sys, urllib.error, urllib.parse, urllib.request
    ready, token, urls = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3:]
    ctx = ssl.create_default_context(cafile=ready["ca_file"])
    auth = base64.b64encode(f"{ready['account_sid']}:{token}".encode()).decode()
    out = []
    for url in urls:
        target = (f"{ready['url']}/Accounts/{ready['account_sid']}/Conferences/"
                  f"{ready['conferences'][0]}/Streams.json")
        body = urllib.parse.urlencode({"Url": url}).encode()
        request = urllib.request.Request(
            target, body, headers={"Authorization": "Basic " + auth})
        try:
            with urllib.request.urlopen(request, context=ctx, timeout=10) as r:
                out.append([r.status, json.loads(r.read())])
        except urllib.error.HTTPError as e:
            out.append([e.code, json.loads(e.read())])
    print(json.dumps(out))
    """
)


def test_the_platform_dials_nothing_off_loopback_unless_allowed(tmp_path: Path) -> None:
    why = netns.unavailable()
    if why is not None:
        pytest.skip(why)
    token = "netns-api-token-Qx4"
    topology = netns.Topology()
    try:
        host = topology.add_isolated("relay")
        proc = topology.spawn(
            host,
            [sys.executable, "-m", "harness.platform", "--run-dir", str(tmp_path / "p"),
             "--allow-dial", "10.255.0.2:443", "--stats-interval", "5",
             "--max-duration", "60"],
            env={"SIGNALWIRE_API_TOKEN": token},
            stdout=subprocess.PIPE,
            stderr=tmp_path / "platform.log",
        )  # fmt: skip
        assert proc.stdout is not None
        ready = json.loads(proc.stdout.readline())
        assert ready["event"] == "ready"
        done = host.run(
            [sys.executable, "-c", _CLIENT, json.dumps(ready), token,
             "wss://10.255.0.1/stream", "wss://10.255.0.2/stream"],
            timeout=seconds(30),
        )  # fmt: skip
        (refused_status, refused), (allowed_status, allowed) = json.loads(done.stdout)
        time.sleep(1.0)  # the allowed dial fails at once: no route in this namespace
        netns.stop(proc)
    finally:
        topology.close()
    assert netns.leftovers(topology.prefix) == []
    assert refused_status == 400, refused
    assert (refused["code"], refused["status"]) == (31922, 400)
    assert refused["more_info"].startswith("https://")
    assert refused["message"].startswith("Url: ")
    assert "--allow-dial 10.255.0.1:443" in refused["message"]
    assert allowed_status == 200, allowed
    log = (tmp_path / "platform.log").read_text()
    assert "Traceback" not in log and "10.255.0.1" not in log
    streams = pq.read_table(tmp_path / "p" / "records" / "platform_streams").to_pylist()
    # one stream, the allowed one, which failed to connect; the refused one never was
    assert [(s["stream_sid"], s["end_reason"]) for s in streams] == [
        (allowed["sid"], "connect-failed")
    ]


def test_the_platform_refuses_a_public_address_without_public(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "harness.platform", "--listen", "0.0.0.0:0",
         "--run-dir", str(tmp_path / "p")],
        capture_output=True, text=True, timeout=seconds(60), cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 2
    assert "--listen: 0.0.0.0 is not a loopback address" in done.stderr
    assert "add --public" in done.stderr and "Traceback" not in done.stderr


def test_report_and_compare_name_the_file_and_never_trace(tmp_path: Path) -> None:
    run_dir = build_passing(tmp_path / "run")
    (frames,) = (run_dir / "records" / "frames").glob("*.parquet")
    frames.write_bytes(frames.read_bytes()[:100])
    report = subprocess.run(
        [sys.executable, "-m", "harness.run.cli", "report", str(run_dir)],
        capture_output=True, text=True, timeout=seconds(120),
    )  # fmt: skip
    assert report.returncode == 3, report.stderr
    assert str(frames) in report.stderr and "Traceback" not in report.stderr
    assert json.loads((run_dir / "summary.json").read_text())["verdict"] == "incomplete"
    bad = tmp_path / "bad.json"
    for text in ('{"thresholds": "abc"}', "[1]", "[" * 100_000):
        bad.write_text(text)
        done = subprocess.run(
            [sys.executable, "-m", "harness.run.cli", "compare", str(run_dir), str(bad)],
            capture_output=True, text=True, timeout=seconds(60),
        )  # fmt: skip
        assert done.returncode == 2, done.stderr
        assert str(bad) in done.stderr and "Traceback" not in done.stderr
