"""How many concurrent streams the reference platform paces within 2 ms of its schedule.

    .venv/bin/python scripts/bench_platform.py                          # 250, 500, 1000
    .venv/bin/python scripts/bench_platform.py --streams 1000,1250 --seconds 10
    .venv/bin/python scripts/bench_platform.py --streams 1000 --workers 2
    .venv/bin/python scripts/bench_platform.py --streams 500 --repeat 2 \
        --src main=/tmp/main-tree --src branch=.          # A/B, alternated

Method (docs/performance.md §3): a real ``python -m harness.platform`` process (pinned
to CPU 1 with ``--workers 1``) is asked over its REST API for N single-track
PCMU conference streams, all dialling one receiver: a bare sink (pinned to CPU
0; picows with aiofastnet's TLS on uvloop, every frame dropped unread, ~3 µs
a message, docs/performance.md §1) so that the receiver is never the bottleneck; its
CPU share is reported beside the platform's. After the last stream connected
(not the last REST answer: the platform dials after answering, and that burst
of TLS handshakes is not pacing) and a warm-up, the window of ``--seconds`` is
measured from the platform's own
records: send-time error = ``sent_ns - due_ns`` of every frame due in the
window (the platform never sends early, so the error is a lateness), and the
platform's ``health`` rows (CPU share of one core, event-loop lag). The
platform is then stopped with SIGTERM (it stops every stream and flushes).
Everything runs on 127.0.0.1, bounded in time; every child is ended by its pid.
The goal (issue 3): 1,000 streams in one process with p99 <= 2 ms.

A/B (issue 14): ``--src NAME=DIR`` (repeatable) runs the platform from the
source tree ``DIR`` (``python -m harness.platform`` with that directory first
on the path, e.g. a ``git archive`` of main) under the kind ``platform:NAME``;
``--repeat N`` runs every kind N times per count, the order of the platforms
reversed every other round (A B, B A, ...), so each comparison is within one
invocation. Each line gives the host's 1-minute load average when it ended.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import picows
import pyarrow.dataset as ds


ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.core.audio import encoded_frames  # noqa: E402
from harness.core.codecs import get_codec  # noqa: E402
from harness.core.messages import media_json  # noqa: E402
from harness.io.tls import client_context, make_tls, server_context  # noqa: E402
from harness.platform.alarm import Alarm  # noqa: E402
from scripts.bench_floor import describe, floor  # noqa: E402


GOAL_P99_MS = 2.0
TOKEN = "bench-platform-token-7Ykq"
WARMUP_S = 2.0
SETTLE_S = 3.0
"""Allowance for the platform to finish dialling after its REST API answered:
the window starts ``WARMUP_S`` after the last stream connected (issue 14)."""


# -- the sink (a child process) -------------------------------------------------


class _Sink(picows.WSListener):
    """Count every frame of one connection, read nothing (the cheapest wss receiver)."""

    frames = 0

    def on_ws_frame(self, transport: picows.WSTransport, frame: picows.WSFrame) -> None:
        _Sink.frames += 1
        if frame.msg_type is picows.WSMsgType.CLOSE:
            transport.send_close(picows.WSCloseCode.OK)
            transport.disconnect()


async def _serve_sink(cert: Path, key: Path) -> None:
    loop = asyncio.get_running_loop()
    server = await picows.ws_create_server(
        lambda _request: _Sink(),
        "127.0.0.1",
        0,
        ssl=server_context(cert, key),
        backlog=4096,
        websocket_handshake_timeout=30,
    )
    port = server.sockets[0].getsockname()[1]
    print(json.dumps({"port": port}), flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    started = time.monotonic()
    try:
        await asyncio.wait_for(stop.wait(), 300)
    except TimeoutError:
        pass
    wall = time.monotonic() - started
    print(
        json.dumps(
            {"frames": _Sink.frames, "cpu_s": time.process_time(), "wall_s": wall}
        ),
        flush=True,
    )
    server.close()


# -- the bare sender (a child process): the machine's ceiling ----------------------


async def _bare_send(url: str, ca: Path, total: int, seconds: float) -> None:
    """Pace ``total`` single-track PCMU streams with the least work a sender can do.

    picows with aiofastnet's TLS, as the platform; one 1 ms ticker woken by the
    same timerfd :class:`~harness.platform.alarm.Alarm`; each frame formatted
    with the platform's own :func:`~harness.core.messages.media_json`, the same
    bytes the platform sends in its default (SignalWire) dialect: no top-level
    ``streamSid`` (until 2026-12-03 the bare frames carried one, 25 bytes more
    a frame than the platform's, 348 against 323). No REST API,
    no send log, no checks, no emulated network, no health sampling: what is
    left is the cost of pacing and sending, which bounds any sender here.
    Prints the send-time error of the frames due after the warm-up, and its CPU.
    """
    ctx = client_context(ca)
    transports: list[Any] = []
    for lo in range(0, total, 50):  # a bounded burst of TLS handshakes at a time
        opened = await asyncio.gather(
            *(
                picows.ws_connect(picows.WSListener, url, ssl_context=ctx)
                for _ in range(lo, min(lo + 50, total))
            )
        )
        transports.extend(t for t, _ in opened)
    payloads = [
        base64.b64encode(f).decode()
        for f in encoded_frames(get_codec("PCMU"), "inbound")
    ]
    by_ms: list[list[Any]] = [[] for _ in range(20)]
    for i, transport in enumerate(transports):  # phases spread evenly, whole ms
        by_ms[(i * 20) // total].append(transport.send)
    loop = asyncio.get_running_loop()
    wake: asyncio.Future[None] | None = None

    def ring() -> None:
        if wake is not None and not wake.done():
            wake.set_result(None)

    alarm = Alarm(ring)
    clock = time.monotonic_ns
    text = picows.WSMsgType.TEXT
    t0 = (clock() // 1_000_000 + 300) * 1_000_000
    measured_from = t0 + int(WARMUP_S * 1e9)
    end = measured_from + int(seconds * 1e9)
    errors = np.zeros(total * int((WARMUP_S + seconds) * 50 + 2), np.int64)
    k = 0
    slot = 0
    cpu0 = wall0 = 0.0
    while True:
        due = t0 + slot * 1_000_000
        if due >= end:
            break
        now = clock()
        if now < due:
            wake = loop.create_future()
            alarm.set(due)
            await wake
            continue
        if due >= measured_from and not cpu0:
            cpu0, wall0 = time.process_time(), time.monotonic()
        chunk = slot // 20 + 1
        payload = payloads[(chunk - 1) % 50]
        timestamp = (chunk - 1) * 20
        for send in by_ms[slot % 20]:
            send(text, media_json(chunk, "inbound", chunk, timestamp, payload))
            errors[k] = clock() - due
            k += 1
        slot += 1
        if t0 + slot * 1_000_000 <= clock():
            await asyncio.sleep(0)  # behind: let the transports breathe
    cpu = (time.process_time() - cpu0) / max(time.monotonic() - wall0, 1e-9)
    alarm.close()
    skip = total * int(WARMUP_S * 50)
    err_ms = errors[skip:k] / 1e6
    for transport in transports:
        transport.disconnect()
    print(json.dumps({"err_ms": err_ms.tolist(), "cpu_cores": cpu}), flush=True)


def measure_bare(streams: int, seconds: float, tls_dir: Path) -> dict[str, Any]:
    """One point of the bare sender against the same sink, pinned the same way."""
    tls = make_tls(tls_dir)
    py = sys.executable
    sink = _start(
        [py, __file__, "--sink", str(tls.cert_file), str(tls.key_file)], 0, {}
    )
    try:
        port = _ready(sink, "the sink")["port"]
        sender = _start(
            [py, __file__, "--bare-send", f"wss://127.0.0.1:{port}/media",
             str(tls.ca_file), str(streams), str(seconds)],
            1, dict(os.environ),
        )  # fmt: skip
        out = _end(sender, WARMUP_S + seconds + 120, signal_first=False)
    finally:
        tail = _end(sink, 20).strip().splitlines()
    sink_stats = json.loads(tail[-1]) if tail else {}
    result = json.loads(out.strip().splitlines()[-1])
    err_ms = np.asarray(result["err_ms"], np.float64)
    return _point(
        streams, 1, seconds, err_ms, float(result["cpu_cores"]), 0.0, sink_stats
    )


def _point(
    streams: int,
    workers: int,
    seconds: float,
    err_ms: np.ndarray,
    cpu: float,
    lag: float,
    sink_stats: dict[str, Any],
) -> dict[str, Any]:
    def q(p: float) -> float:
        return float(np.percentile(err_ms, p)) if len(err_ms) else float("nan")

    return {
        "streams": streams,
        "workers": workers,
        "frames": len(err_ms),
        "err_p50_ms": round(q(50), 3),
        "err_p99_ms": round(q(99), 3),
        "err_p999_ms": round(q(99.9), 3),
        "err_max_ms": round(float(err_ms.max()) if len(err_ms) else 0.0, 3),
        "cpu_cores": round(cpu, 2),
        # CPU per message: what a shared box's contention moves least
        "cpu_us_per_msg": round(cpu * 1e6 * seconds / len(err_ms), 1)
        if len(err_ms)
        else 0.0,
        "loop_lag_p99_ms": round(lag, 2),
        "sink_cores": round(
            float(sink_stats.get("cpu_s", 0.0)) / float(sink_stats.get("wall_s", 1.0)),
            2,
        ),
        "ok": bool(len(err_ms)) and q(99) <= GOAL_P99_MS,
    }


# -- the driver -------------------------------------------------------------------


def _pinned(cpu: int | None) -> Any:
    if cpu is None or not hasattr(os, "sched_setaffinity"):
        return None
    if cpu >= (os.cpu_count() or 1):
        return None
    return lambda: os.sched_setaffinity(0, {cpu})


def _start(
    argv: list[str], cpu: int | None, env: dict[str, str], cwd: Path | None = None
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
        cwd=cwd,
        preexec_fn=_pinned(cpu),
    )


def _ready(proc: subprocess.Popen[str], what: str) -> dict[str, Any]:
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        raise SystemExit(f"{what} exited before it was ready")
    ready: dict[str, Any] = json.loads(line)
    return ready


def _end(
    proc: subprocess.Popen[str], timeout: float, *, signal_first: bool = True
) -> str:
    """SIGTERM ``proc`` by pid (unless told to let it finish), wait (SIGKILL after
    ``timeout``); return its remaining stdout."""
    if signal_first and proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate(timeout=10)
    return out or ""


async def _create(
    ready: dict[str, Any], url: str, ca: Path, count: int
) -> tuple[int, float]:
    import aiohttp

    account, conference = ready["account_sid"], ready["conferences"][0]
    api = f"{ready['url']}/Accounts/{account}/Conferences/{conference}/Streams.json"
    auth = base64.b64encode(f"{account}:{TOKEN}".encode()).decode()
    form = {"Url": url, "Track": "inbound_track", "StreamCodec": "PCMU"}
    gate = asyncio.Semaphore(32)
    ok = 0

    async def one(http: aiohttp.ClientSession) -> None:
        nonlocal ok
        async with gate, http.post(api, data=form) as answer:
            await answer.read()
            ok += answer.status == 200

    connector = aiohttp.TCPConnector(ssl=client_context(ca), limit=64)
    headers = {"Authorization": f"Basic {auth}"}
    async with aiohttp.ClientSession(connector=connector, headers=headers) as http:
        await asyncio.gather(*(one(http) for _ in range(count)))
    return ok, time.monotonic()


def _table(run_dir: Path, name: str) -> Any:
    path = run_dir / "records" / name
    return ds.dataset(str(path), format="parquet").to_table() if path.exists() else None


def window_start(created_at_s: float, connected_ns: Sequence[int]) -> int:
    """Where the measured window starts: ``WARMUP_S`` after the last stream connected.

    Not after the last REST answer: the platform dials after answering, and
    that burst of TLS handshakes, measured as pacing, was once most of a
    run's p99 (issue 14). ``connected_ns`` 0 (never connected) is ignored.
    """
    last = max([int(created_at_s * 1e9), *connected_ns])
    return last + int(WARMUP_S * 1e9)


def measure(
    streams: int,
    seconds: float,
    workers: int,
    tls_dir: Path,
    src: Path = ROOT,
    keep: bool = False,
) -> dict[str, Any]:
    """One point: ``streams`` streams for ``seconds``; the platform's own numbers.

    ``src``: the source tree the platform runs from (its directory first on the path).
    The platform's run directory (3-4 MB at 500 streams) goes with ``tls_dir``
    when the benchmark ends, unless ``keep`` (``--keep``: under /tmp, its path
    in the point's ``run_dir``).
    """
    tls = make_tls(tls_dir)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIGNALWIRE_")}
    env["SIGNALWIRE_API_TOKEN"] = TOKEN
    env["PYTHONPATH"] = str(src)
    run_dir = Path(
        tempfile.mkdtemp(
            prefix=f"bench-platform-{streams}-", dir=None if keep else tls_dir
        )
    )
    py = sys.executable
    sink = _start(
        [py, __file__, "--sink", str(tls.cert_file), str(tls.key_file)], 0, env
    )
    platform = _start(
        [py, "-m", "harness.platform",
         "--cert-file", str(tls.cert_file), "--key-file", str(tls.key_file),
         "--ca-file", str(tls.ca_file), "--run-dir", str(run_dir),
         "--conferences", "1", "--calls", "0", "--max-duration", "180",
         "--log-level", "ERROR",
         *(["--workers", str(workers)] if workers != 1 else [])],
        1 if workers == 1 else None,
        env,
        cwd=src,
    )  # fmt: skip
    try:
        port = _ready(sink, "the sink")["port"]
        ready = _ready(platform, "the platform")
        url = f"wss://127.0.0.1:{port}/media"
        created, created_at = asyncio.run(_create(ready, url, tls.ca_file, streams))
        time.sleep(SETTLE_S + WARMUP_S + seconds + 0.5)
    finally:
        _end(platform, 60)
        tail = _end(sink, 20).strip().splitlines()
    sink_stats = json.loads(tail[-1]) if tail else {}
    ended = _table(run_dir, "platform_streams")
    connected = ended.column("connected_ns").to_pylist() if ended is not None else []
    start_ns = window_start(created_at, connected)
    last_ns = start_ns - int(WARMUP_S * 1e9)
    end_ns = start_ns + int(seconds * 1e9)
    frames = _table(run_dir, "sent_frames")
    if frames is None:
        raise SystemExit(f"{run_dir}: no send log")
    due = frames.column("due_ns").to_numpy()
    sent = frames.column("sent_ns").to_numpy()
    window = (due >= start_ns) & (due < end_ns)
    err_ms = (sent[window] - due[window]) / 1e6
    health = _table(run_dir, "health")
    cpu = lag = 0.0
    if health is not None:
        at = health.column("at_ns").to_numpy()
        inside = (at > start_ns) & (at <= end_ns + 1_000_000_000)
        cpu_ns = health.column("cpu_ns").to_numpy()[inside]
        interval = health.column("interval_ns").to_numpy()[inside]
        producers = len(set(health.column("producer").to_pylist()))
        cpu = float(cpu_ns.sum() / interval.sum() * producers) if interval.sum() else 0
        lags = health.column("lag_p99_ns").to_numpy()[inside]
        lag = float(lags.max() / 1e6) if len(lags) else 0.0
    reasons: dict[str, int] = {}
    if ended is not None:
        for reason in ended.column("end_reason").to_pylist():
            reasons[reason] = reasons.get(reason, 0) + 1

    point = _point(streams, workers, seconds, err_ms, cpu, lag, sink_stats)
    point["ok"] = point["ok"] and created == streams
    point.update(
        created=created,
        end_reasons=reasons,
        run_dir=str(run_dir),
        dialled_s=round(last_ns / 1e9 - created_at, 2),
    )
    return point


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--streams", default="250,500,1000", help="comma-separated counts"
    )
    parser.add_argument(
        "--seconds", type=float, default=10.0, help="measured window (<= 30)"
    )
    parser.add_argument("--workers", type=int, default=1, help="platform --workers")
    parser.add_argument("--out", help="also write the results as JSON here")
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep each platform run directory under /tmp (default: removed at the end)",
    )
    parser.add_argument(
        "--sink", nargs=2, metavar=("CERT", "KEY"), help=argparse.SUPPRESS
    )
    parser.add_argument(
        "--kinds",
        default="bare,platform",
        help="bare (the least a picows sender does: the machine's ceiling), platform",
    )
    parser.add_argument(
        "--src",
        action="append",
        default=[],
        metavar="NAME=DIR",
        help="run the platform from source tree DIR as kind platform:NAME (repeatable: A/B)",
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs of every kind per count (<= 5)"
    )
    parser.add_argument("--bare-send", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.sink or args.bare_send:
        return args
    if not 0 < args.seconds <= 30:
        parser.error("--seconds: use 1 to 30 (load runs stay short on a shared box)")
    if not 0 < args.repeat <= 5:
        parser.error("--repeat: use 1 to 5")
    args.counts = [int(n) for n in args.streams.split(",")]
    if any(not 0 < n <= 5000 for n in args.counts):
        parser.error("--streams: use counts from 1 to 5000")
    kinds = args.kinds.split(",")
    if not kinds or any(k not in ("bare", "platform") for k in kinds):
        parser.error("--kinds: use bare, platform or both")
    sources: list[tuple[str, Path]] = []
    for spec in args.src:
        name, _, folder = spec.partition("=")
        if not name or not (Path(folder) / "harness" / "platform").is_dir():
            parser.error(f"--src {spec!r}: NAME=DIR, DIR a streamload source tree")
        sources.append((f"platform:{name}", Path(folder).resolve()))
    platforms = sources or [("platform", ROOT)]
    args.plan = [("bare", ROOT)] if "bare" in kinds else []
    args.platforms = platforms if "platform" in kinds else []
    return args


def _rounds(args: argparse.Namespace) -> list[tuple[int, str, Path]]:
    """Every run in order: per count, ``repeat`` rounds, the platforms' order
    reversed every other round so no variant always runs first."""
    runs = []
    for n in args.counts:
        for r in range(args.repeat):
            platforms = args.platforms if r % 2 == 0 else args.platforms[::-1]
            runs += [(n, kind, src) for kind, src in [*args.plan, *platforms]]
    return runs


def _line(kind: str, n: int, r: dict[str, Any], seconds: float) -> str:
    verdict = "ok" if r["ok"] else "fails"
    if r.get("dialled_s", 0) > SETTLE_S:
        verdict += f" (dialled {r['dialled_s']} s: window cut)"
    if r.get("created", n) != n:
        verdict += f" ({r['created']}/{n} created)"
    return (
        f"{kind:>15} {n:>7} {round(r['frames'] / seconds):>7} "
        f"{r['err_p50_ms']:>8.3f} {r['err_p99_ms']:>8.3f} "
        f"{r['err_p999_ms']:>7.2f} {r['err_max_ms']:>7.2f} "
        f"{r['cpu_cores']:>6.2f} {r['cpu_us_per_msg']:>6.1f} "
        f"{r['loop_lag_p99_ms']:>8.2f} "
        f"{r['sink_cores']:>5.2f} {r['load']:>5.2f}  {verdict}"
    )


def summarize(results: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Per kind and count, the median run's p99 and CPU per message; per kind,
    the most streams whose median p99 met the goal; each platform against bare."""
    cells: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for r in results:
        cells.setdefault((r["kind"], r["streams"]), []).append(r)
    medians = {}
    best: dict[str, int] = {}
    for (kind, n), runs in sorted(cells.items()):
        p99 = float(np.median([r["err_p99_ms"] for r in runs]))
        us = float(np.median([r["cpu_us_per_msg"] for r in runs]))
        medians[f"{kind}@{n}"] = {"err_p99_ms": p99, "cpu_us_per_msg": us}
        best.setdefault(kind, 0)
        if p99 <= GOAL_P99_MS and all(r.get("created", n) == n for r in runs):
            best[kind] = max(best[kind], n)
    ratios: dict[str, Any] = {}
    for kind in best:
        if kind.startswith("platform") and "bare" in best:
            ratios[f"{kind}/bare streams"] = (
                round(best[kind] / best["bare"], 2) if best["bare"] else None
            )
            for key, cell in medians.items():
                bare = medians.get("bare@" + key.rpartition("@")[2])
                if key.startswith(kind + "@") and bare and bare["cpu_us_per_msg"]:
                    ratios[f"{key} cpu/msg over bare"] = round(
                        cell["cpu_us_per_msg"] / bare["cpu_us_per_msg"], 2
                    )
    return {"medians": medians, "best": best, "ratios": ratios}


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(argv)
    if args.sink:
        import uvloop

        uvloop.run(_serve_sink(Path(args.sink[0]), Path(args.sink[1])))
        return 0
    if args.bare_send:
        import uvloop

        url, ca, total, seconds = args.bare_send
        uvloop.run(_bare_send(url, Path(ca), int(total), float(seconds)))
        return 0
    machine = floor(3.0, cpu=1)  # where the sender runs
    print(describe(machine))
    print(
        f"{'kind':>15} {'streams':>7} {'msgs/s':>7} {'err p50':>8} {'err p99':>8} "
        f"{'p99.9':>7} {'max':>7} {'cores':>6} {'µs/msg':>6} {'lag p99':>8} "
        f"{'sink':>5} {'load':>5}  verdict"
    )
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-platform-tls-") as tls_dir:
        for n, kind, src in _rounds(args):
            if kind == "bare":
                r = measure_bare(n, args.seconds, Path(tls_dir))
            else:
                r = measure(
                    n, args.seconds, args.workers, Path(tls_dir), src, args.keep
                )
            r.update(kind=kind, load=round(os.getloadavg()[0], 2))
            results.append(r)
            print(_line(kind, n, r, args.seconds), flush=True)
    print(
        f"send-time error = sent - due over {args.seconds:g} s after a "
        f"{WARMUP_S:g} s warm-up; goal p99 <= {GOAL_P99_MS} ms; cores = the "
        "sender's CPU in cores (µs/msg: per message sent); sink = the receiver's "
        "(picows wss, frames dropped); load = 1-minute load average"
    )
    summary = summarize(results)
    print(json.dumps(summary, indent=1))
    if args.out:
        Path(args.out).write_text(
            json.dumps({"floor": machine, "runs": results, **summary}, indent=2)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
