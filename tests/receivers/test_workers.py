"""receivers.workers: N receiver processes behind one port, one ready and stats stream."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from harness.core.live import FIELD, merge
from harness.io import lifeline
from harness.io.tls import TlsFiles
from receivers.options import parse_args
from receivers.workers import merge_stats, worker_argv
from tests.conftest import seconds
from tests.receivers.helpers import (
    client,
    read_table,
    run_async,
    send_all,
    stream_messages,
)
from tests.receivers.test_main import Process


def test_merge_sums_counts_and_keeps_the_worst_health() -> None:
    merged = merge_stats(
        {
            1: {
                "event": "stats",
                "frames": 10,
                "streams_open": 1,
                "cpu": 0.5,
                "pid": 1,
            },
            2: {"event": "stats", "frames": 5, "streams_open": 0, "cpu": 0.7, "x": "y"},
        }
    )
    assert merged == {"frames": 15, "streams_open": 1, "cpu": 0.7, "workers": 2}


def test_worker_argv_parses_back_to_the_same_settings(
    tls_files: TlsFiles, tmp_path: Path
) -> None:
    options = parse_args(
        [
            "--cert-file", str(tls_files.cert_file), "--key-file", str(tls_files.key_file),
            "--run-dir", str(tmp_path), "--processes", "3", "--idle-timeout", "7.5",
            "--path", "/media", "--producer", "rx",
        ],
        environ={},
    )  # fmt: skip
    argv = worker_argv(options, 4321, 1)
    assert argv[:2] == ["-m", "receivers"]
    worker = parse_args(argv[2:], environ={})
    assert (worker.server.port, worker.server.reuse_port) == (4321, True)
    assert (worker.producer, worker.processes) == ("rx-2", 1)
    assert (worker.server.path, worker.server.idle_timeout) == ("/media", 7.5)


async def _start(
    tls: TlsFiles, run_dir: Path, n: int
) -> tuple[Process, dict[str, object]]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "receivers", "--processes", str(n),
        "--cert-file", str(tls.cert_file), "--key-file", str(tls.key_file),
        "--run-dir", str(run_dir), "--stats-interval", "0.1",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    child = Process(proc)
    try:
        return child, await child.next_event("ready", timeout=20)
    except BaseException:
        proc.kill()
        await proc.wait()
        raise


def test_two_workers_share_one_url_and_merge_their_stats(
    tls_files: TlsFiles, tmp_path: Path
) -> None:
    async def scenario() -> tuple[int, str, Process, dict[str, object]]:
        child, ready = await _start(tls_files, tmp_path, 2)
        try:
            for _ in range(8):
                async with client(str(ready["url"]), tls_files) as ws:
                    await send_all(ws, stream_messages(10)[1])
            async with asyncio.timeout(seconds(10)):
                while (await child.next_event("stats")).get("frames") != 80:
                    pass
            child.proc.send_signal(signal.SIGTERM)
            code, err = await child.finish()
            return code, err, child, ready
        finally:
            if child.proc.returncode is None:
                child.proc.kill()
                await child.proc.wait()

    code, err, child, ready = run_async(scenario, timeout=40)
    assert code == 0, err
    workers = ready["workers"]
    assert isinstance(workers, list) and len(workers) == 2
    assert str(ready["url"]).startswith("wss://127.0.0.1:")
    last = child.events[-1]
    assert (last["event"], last["workers"], last["streams_total"], last["frames"]) == (
        "stats", 2, 8, 80,
    )  # fmt: skip
    producers = {r["producer"] for r in read_table(tmp_path, "producers")}
    assert producers == {"receiver-0-1", "receiver-0-2"}
    assert len(read_table(tmp_path, "frames")) == 80
    assert len(read_table(tmp_path, "streams")) == 8
    # the supervisor's live deltas, summed, are the workers' whole histograms
    lines = [e[FIELD] for e in child.events if e["event"] == "stats"]
    live = merge(("supervisor", line) for line in lines)
    view = live.figures().codec("PCMU")
    assert (live.gaps, view.frames, view.streams_started, view.streams_live) == (
        0,
        80,
        8,
        0,
    )
    rows = read_table(tmp_path, "histograms")
    transit = sum(r["count"] for r in rows if r["metric"] == "transit_first_ns")
    assert transit == 80


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_workers_stop_when_the_supervisor_is_killed(
    tls_files: TlsFiles, tmp_path: Path
) -> None:
    async def scenario() -> list[int]:
        child, ready = await _start(tls_files, tmp_path, 2)
        pids = [int(p) for p in ready["workers"]]  # type: ignore[attr-defined]
        child.proc.kill()  # no chance to forward anything
        await child.proc.wait()
        try:
            async with asyncio.timeout(seconds(15)):
                while any(_alive(p) for p in pids):
                    await asyncio.sleep(0.05)
        finally:  # a worker left alive holds the pipes: fail, do not hang
            for pid in pids:
                if _alive(pid):
                    os.kill(pid, signal.SIGKILL)
        return pids

    pids = run_async(scenario, timeout=40)
    assert not any(_alive(p) for p in pids)
    # each worker still flushed what it had: its producers row
    assert len(read_table(tmp_path, "producers")) == 2


def test_a_supervisor_started_by_hand_ties_its_workers_to_itself(
    tls_files: TlsFiles, tmp_path: Path
) -> None:
    """Not armed itself (no streamload above it), the supervisor still hands its
    workers its pid (harness/io/lifeline.py), so a worker ends with it even if it
    is killed as the worker starts. CI once waited on a worker whose own watch
    had read init as its parent (``test_workers_stop_when_the_supervisor_is_killed``)."""
    assert lifeline.ENV not in os.environ  # the supervisor below is not armed

    async def scenario() -> tuple[int, list[list[bytes]]]:
        child, ready = await _start(tls_files, tmp_path, 2)
        try:
            pids = [int(p) for p in ready["workers"]]  # type: ignore[attr-defined]
            environs = [
                Path(f"/proc/{pid}/environ").read_bytes().split(b"\0") for pid in pids
            ]
            return child.proc.pid, environs
        finally:
            child.proc.send_signal(signal.SIGTERM)
            await child.proc.wait()

    supervisor, environs = run_async(scenario, timeout=40)
    assert len(environs) == 2
    for environ in environs:
        assert f"{lifeline.ENV}={supervisor}".encode() in environ


def test_merge_leaves_the_live_objects_to_the_supervisor() -> None:
    one = {"seq": 1, "tracks": {"PCMU": {"inbound": {"transit": [[5], [2]]}}}}
    assert merge_stats({1: {"frames": 2, FIELD: one}}) == {"frames": 2, "workers": 1}
