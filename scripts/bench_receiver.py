"""How many paced streams one receiver process holds: full streamload vs bare websockets.

    .venv/bin/python scripts/bench_receiver.py                 # the default scan
    .venv/bin/python scripts/bench_receiver.py --streams 500,700 --seconds 6

Method (limits.md §2): N wss connections, one per stream, each sending one
single-track PCMU ``media`` message every 20 ms, phases spread evenly over the
20 ms; every message carries ``sendNs``, the sender's CLOCK_MONOTONIC stamp
taken just before the write. "Added latency" is the receiver's arrival stamp
minus ``sendNs`` over the messages sent after the warm-up. The receiver runs
pinned to CPU 0, the sender(s) to CPU 1. Two receivers, in the same run,
through the same sender:

* ``full``: ``python -m receivers``: every message checked by the session,
  measured, histogrammed and recorded as Parquet (the product);
* ``bare``: websockets + uvloop, per message only a stamp, a JSON parse, a
  strict base64 decode and one store (no checks, no records, no echo).

For each, the stream count rises until added latency p99 exceeds 5 ms; the
highest passing count of each and their ratio are printed (and written as
JSON with ``--out``). The sender is a minimal hand-framed WebSocket client
(TLS, masked text frames, one 1 ms ticker) so that it is not the bottleneck;
a run where the sender used over 85 % of its core is marked
``sender-limited`` (latency is measured from each send's own stamp, so late
pacing alone does not spoil it). Each point is the median of ``--repeat``
runs, both receivers back to back at each count. Every run is bounded
in time; every child is ended by its pid.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import dataclasses
import json
import os
import signal
import ssl
import struct
import subprocess
import sys
import tempfile
import time
import uuid
from array import array
from pathlib import Path
from typing import Any

import numpy as np


ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.codecs import get_codec  # noqa: E402
from harness.correlation import PARAM_NAME, Expectation, digest  # noqa: E402
from harness.signal import encoded_frames  # noqa: E402
from harness.tls import client_context, make_tls, server_context  # noqa: E402


FRAME_NS = 20_000_000
LIMIT_P99_MS = 5.0
MEDIA = (
    '{"event":"media","sequenceNumber":"%d","media":{"track":"inbound",'
    '"chunk":"%d","timestamp":"%d","payload":"%s"},"streamSid":"%s","sendNs":%d}'
)


# -- the bare receiver (a child process) ------------------------------------


async def serve_bare(cert: Path, key: Path, out: Path) -> None:
    """websockets + uvloop, the least a receiver does per message; latencies to ``out``."""
    from websockets.asyncio.server import serve

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    sent = array("q")
    arrived = array("q")
    loads = json.loads
    a2b = binascii.a2b_base64
    clock = time.monotonic_ns

    async def handle(ws: Any) -> None:
        try:
            async for message in ws:
                now = clock()
                data = loads(message)
                if data.get("event") != "media":
                    continue
                a2b(data["media"]["payload"], strict_mode=True)
                int(data["sequenceNumber"])
                sent.append(data["sendNs"])
                arrived.append(now)
        except Exception:
            pass

    async with serve(
        handle,
        "127.0.0.1",
        0,
        ssl=server_context(cert, key),
        compression=None,
        max_size=1 << 20,
        ping_interval=None,
    ) as server:
        port = server.sockets[0].getsockname()[1]
        print(json.dumps({"event": "ready", "url": f"wss://127.0.0.1:{port}/stream"}))
        sys.stdout.flush()
        await stop.wait()
    np.savez(
        out,
        sent=np.frombuffer(sent, np.int64),
        arrival=np.frombuffer(arrived, np.int64),
    )


# -- the sender (a child process) ---------------------------------------------


class Stream:
    """One connection: a hand-framed WebSocket client (masked with a zero key)."""

    __slots__ = ("index", "phase", "sid", "transport", "writer")

    def __init__(self, index: int, phase: int, sid: str) -> None:
        self.index = index
        self.phase = phase
        self.sid = sid
        self.writer: asyncio.StreamWriter | None = None


def frame(text: str) -> bytes:
    """One masked text frame. RFC 6455 §5.3 allows any key; zero keeps it a copy."""
    data = text.encode()
    n = len(data)
    if n < 126:
        head = struct.pack("!BB", 0x81, 0x80 | n)
    elif n < 65536:
        head = struct.pack("!BBH", 0x81, 0x80 | 126, n)
    else:
        head = struct.pack("!BBQ", 0x81, 0x80 | 127, n)
    return head + b"\0\0\0\0" + data


async def dial(url: str, ctx: ssl.SSLContext) -> asyncio.StreamWriter:
    host_port = url.split("//", 1)[1].split("/", 1)[0]
    host, port = host_port.rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port), ssl=ctx)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        (
            f"GET /stream HTTP/1.1\r\nHost: {host_port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    head = await reader.readuntil(b"\r\n\r\n")
    if b" 101 " not in head.split(b"\r\n", 1)[0]:
        raise RuntimeError(f"handshake refused: {head[:80]!r}")
    asyncio.get_running_loop().create_task(_drain(reader))
    return writer


async def _drain(reader: asyncio.StreamReader) -> None:
    try:
        while await reader.read(65536):
            pass
    except (ConnectionError, ssl.SSLError):
        pass


def opening(sid: str) -> list[str]:
    exp = Expectation("bench", f"req-{sid[:8]}", "PCMU", "inbound_track", 0, digest([]))
    start = {
        "event": "start",
        "sequenceNumber": "1",
        "start": {
            "streamSid": sid,
            "accountSid": str(uuid.uuid4()),
            "callSid": str(uuid.uuid4()),
            "tracks": ["inbound"],
            "customParameters": {PARAM_NAME: exp.encode()},
            "mediaFormat": {
                "encoding": "audio/x-mulaw",
                "sampleRate": 8000,
                "channels": 1,
            },
        },
        "streamSid": sid,
    }
    return [
        json.dumps({"event": "connected", "protocol": "Call", "version": "0.2.0"}),
        json.dumps(start),
    ]


async def send(
    url: str, ca: Path, first: int, count: int, total: int, seconds: float, out: Path
) -> None:
    """Pace ``count`` streams (of ``total``, for the phases) for ``seconds``; log every send."""
    ctx = client_context(ca)
    payloads = [
        base64.b64encode(f).decode()
        for f in encoded_frames(get_codec("PCMU"), "inbound")
    ]
    streams = [
        # whole-ms phases: the 1 ms ticker then never sends a frame early
        Stream(i, (i * 20) // total * 1_000_000, str(uuid.uuid4()))
        for i in range(first, first + count)
    ]
    for s in streams:
        s.writer = await dial(url, ctx)
        for text in opening(s.sid):
            s.writer.write(frame(text))
    # every stream's chunk k is due at t0 + phase + (k - 1) x 20 ms
    t0 = time.monotonic_ns() + 200_000_000
    end = t0 + int(seconds * 1e9)
    by_ms: dict[int, list[Stream]] = {}
    for s in streams:
        by_ms.setdefault(s.phase // 1_000_000, []).append(s)
    log_index, log_chunk, log_due, log_sent = (
        array("q"),
        array("q"),
        array("q"),
        array("q"),
    )
    clock = time.monotonic_ns
    cpu0 = time.process_time_ns()
    slot = 0  # absolute ms since t0 of the next slot to send
    while True:
        now = clock()
        if now >= end:
            break
        due_slot_ns = t0 + slot * 1_000_000
        if now < due_slot_ns:
            await asyncio.sleep((due_slot_ns - now) / 1e9)
            continue
        # send every slot that has come (more than one if the loop was late)
        current = (now - t0) // 1_000_000
        while slot <= current:
            chunk = slot // 20 + 1
            for s in by_ms.get(slot % 20, ()):
                due = t0 + s.phase + (chunk - 1) * FRAME_NS
                stamp = clock()
                text = MEDIA % (
                    chunk + 1,
                    chunk,
                    (chunk - 1) * 20,
                    payloads[(chunk - 1) % 50],
                    s.sid,
                    stamp,
                )
                assert s.writer is not None
                s.writer.write(frame(text))
                log_index.append(s.index)
                log_chunk.append(chunk)
                log_due.append(due)
                log_sent.append(stamp)
            slot += 1
        await asyncio.sleep(0)
    cpu = (time.process_time_ns() - cpu0) / (clock() - t0)
    for s in streams:
        assert s.writer is not None
        s.writer.write(
            frame(
                json.dumps(
                    {"event": "stop", "sequenceNumber": "999999", "streamSid": s.sid}
                )
            )
        )
        s.writer.write(b"\x88\x82\0\0\0\0\x03\xe8")  # close 1000, masked
    await asyncio.sleep(0.5)
    for s in streams:
        assert s.writer is not None
        s.writer.close()
    np.savez(
        out,
        index=np.frombuffer(log_index, np.int64),
        chunk=np.frombuffer(log_chunk, np.int64),
        due=np.frombuffer(log_due, np.int64),
        sent=np.frombuffer(log_sent, np.int64),
        sids=np.array([s.sid for s in streams]),
        first=np.int64(first),
        cpu=np.float64(cpu),
        t0=np.int64(t0),
    )


# -- the driver ---------------------------------------------------------------


@dataclasses.dataclass
class Result:
    kind: str
    streams: int
    messages: int
    p50_ms: float
    p99_ms: float
    p999_ms: float
    max_ms: float
    receiver_cpu: float
    sender_cpu: float
    sender_p99_ms: float
    verdict: str


def _cpu_ticks(pid: int) -> int:
    """utime + stime of ``pid`` and its threads, in clock ticks."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def _pinned(cpu: int, argv: list[str]) -> list[str]:
    return ["taskset", "-c", str(cpu), *argv]


def _ready(proc: subprocess.Popen[str], timeout: float = 30.0) -> dict[str, Any]:
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if event.get("event") == "ready":
            return dict(event)
    raise RuntimeError(f"receiver not ready (exit {proc.poll()})")


def run_once(
    kind: str, n: int, args: argparse.Namespace, tls: Any, work: Path, rep: int = 0
) -> Result:
    """One receiver, ``n`` streams for warm-up + ``seconds``; its latency figures."""
    run_dir = work / f"{kind}-{n}-{rep}"
    run_dir.mkdir()
    py = sys.executable
    if kind == "full":
        argv = [py, "-m", "receivers", "--cert-file", str(tls.cert_file), "--key-file",
                str(tls.key_file), "--run-dir", str(run_dir), "--max-duration", "120",
                "--stats-interval", "1"]  # fmt: skip
    else:
        argv = [py, __file__, "--serve-bare", str(run_dir / "bare.npz"),
                "--cert", str(tls.cert_file), "--key", str(tls.key_file)]  # fmt: skip
    receiver = subprocess.Popen(
        _pinned(0, argv), stdout=subprocess.PIPE, text=True, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    senders: list[subprocess.Popen[bytes]] = []
    try:
        url = str(_ready(receiver)["url"])
        seconds = args.warmup + args.seconds
        share = [
            n // args.senders + (i < n % args.senders) for i in range(args.senders)
        ]
        first = 0
        for i, count in enumerate(share):
            out = run_dir / f"sender-{i}.npz"
            senders.append(
                subprocess.Popen(
                    _pinned(
                        1,
                        [
                            py,
                            __file__,
                            "--send",
                            url,
                            "--ca",
                            str(tls.ca_file),
                            "--first",
                            str(first),
                            "--count",
                            str(count),
                            "--total",
                            str(n),
                            "--for",
                            str(seconds),
                            "--log",
                            str(out),
                        ],
                    ),
                    cwd=ROOT,
                    env={**os.environ, "PYTHONPATH": str(ROOT)},
                )  # fmt: skip
            )
            first += count
        # the receiver's CPU over the measured window (after the warm-up)
        time.sleep(args.warmup + 1.0)  # connect time plus warm-up; bounded
        ticks0, wall0 = _cpu_ticks(receiver.pid), time.monotonic()
        time.sleep(args.seconds - 1.0)
        ticks1, wall1 = _cpu_ticks(receiver.pid), time.monotonic()
        for s in senders:
            s.wait(timeout=seconds + 60)
        receiver.send_signal(signal.SIGTERM)
        receiver.wait(timeout=60)
    finally:
        children: list[subprocess.Popen[Any]] = [*senders, receiver]
        for p in children:
            if p.poll() is None:
                p.kill()
                p.wait()
    cpu = (ticks1 - ticks0) / os.sysconf("SC_CLK_TCK") / (wall1 - wall0)
    logs = [np.load(run_dir / f"sender-{i}.npz") for i in range(args.senders)]
    t0 = min(int(log["t0"]) for log in logs)
    cutoff = t0 + int(args.warmup * 1e9)
    sender_cpu = max(float(log["cpu"]) for log in logs)
    pacing = np.concatenate([log["sent"] - log["due"] for log in logs])
    sender_p99 = float(np.quantile(pacing, 0.99)) / 1e6 if len(pacing) else 0.0
    if kind == "bare":
        data = np.load(run_dir / "bare.npz")
        keep = data["sent"] >= cutoff
        latency = data["arrival"][keep] - data["sent"][keep]
    else:
        latency = _full_latency(run_dir, logs, cutoff)
    if not len(latency):
        raise RuntimeError(f"{kind} {n}: no messages measured")
    p50, p99, p999 = np.quantile(latency, [0.5, 0.99, 0.999]) / 1e6
    verdict = "ok" if p99 <= LIMIT_P99_MS else "fails"
    if sender_cpu > 0.85:  # latency is from each send's own stamp: only a
        verdict += ", sender-limited"  # sender that cannot keep up spoils it
    return Result(kind, n, len(latency), round(p50, 3), round(p99, 3), round(p999, 3),
                  round(float(latency.max()) / 1e6, 3), round(cpu, 3), round(sender_cpu, 3),
                  round(sender_p99, 3), verdict)  # fmt: skip


def _full_latency(run_dir: Path, logs: list[Any], cutoff: int) -> np.ndarray:
    """Join the receiver's ``frames`` records with the senders' logs on (sid, chunk)."""
    import pyarrow.dataset as ds

    frames = ds.dataset(str(run_dir / "records" / "frames"), format="parquet").to_table(
        columns=["stream_sid", "chunk", "arrival_ns"]
    )
    index: dict[str, int] = {}
    for log in logs:
        for j, sid in enumerate(log["sids"].tolist()):
            index[sid] = int(log["first"]) + j
    sids = frames.column("stream_sid").to_pylist()
    f_idx = np.array([index.get(s, -1) for s in sids], np.int64)
    f_key = f_idx * 1_000_000 + frames.column("chunk").to_numpy()
    arrival = frames.column("arrival_ns").to_numpy()
    s_key = np.concatenate([log["index"] * 1_000_000 + log["chunk"] for log in logs])
    s_sent = np.concatenate([log["sent"] for log in logs])
    order = np.argsort(s_key)
    s_key, s_sent = s_key[order], s_sent[order]
    pos = np.clip(np.searchsorted(s_key, f_key), 0, len(s_key) - 1)
    hit = (s_key[pos] == f_key) & (f_idx >= 0)
    sent = s_sent[pos[hit]]
    keep = sent >= cutoff
    latency: np.ndarray = (arrival[hit] - sent)[keep]
    return latency


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--streams", default="300,500,600,700,800,900,1000,1100")
    p.add_argument("--kinds", default="bare,full")
    p.add_argument("--seconds", type=float, default=6.0, help="measured, after warm-up")
    p.add_argument("--warmup", type=float, default=2.0)
    p.add_argument("--senders", type=int, default=1)
    p.add_argument("--repeat", type=int, default=3, help="runs per point (median)")
    p.add_argument("--out", type=Path, help="write the results as JSON here")
    p.add_argument("--keep", type=Path, help="keep the records and logs here")
    # child modes
    p.add_argument("--serve-bare", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--cert", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--key", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--send", help=argparse.SUPPRESS)
    p.add_argument("--ca", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--first", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--count", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--total", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument(
        "--for", dest="duration", type=float, default=0, help=argparse.SUPPRESS
    )
    p.add_argument("--log", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args()
    import uvloop

    if args.serve_bare:
        uvloop.run(serve_bare(args.cert, args.key, args.serve_bare))
        return 0
    if args.send:
        uvloop.run(send(args.send, args.ca, args.first, args.count, args.total,
                        args.duration, args.log))  # fmt: skip
        return 0
    counts = [int(x) for x in args.streams.split(",")]
    results: list[Result] = []
    best: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix="bench-receiver-") as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        tls = make_tls(work / "tls")
        # Both receivers at each count, back to back, so they see the same machine;
        # each point is the median (by p99) of --repeat runs (limits.md's habit).
        live = args.kinds.split(",")
        for n in counts:
            for kind in list(live):
                runs = sorted(
                    (run_once(kind, n, args, tls, work, i) for i in range(args.repeat)),
                    key=lambda r: r.p99_ms,
                )
                for r in runs:
                    print(json.dumps(dataclasses.asdict(r)), flush=True)
                r = runs[len(runs) // 2]
                results.append(r)
                if r.verdict == "ok":
                    best[kind] = n
                else:
                    live.remove(kind)
    summary = {
        "best": best,
        "ratio_full_to_bare": round(best["full"] / best["bare"], 3)
        if best.get("full") and best.get("bare")
        else None,
        "runs": [dataclasses.asdict(r) for r in results],
    }
    print(json.dumps({k: v for k, v in summary.items() if k != "runs"}))
    if args.out:
        args.out.write_text(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
