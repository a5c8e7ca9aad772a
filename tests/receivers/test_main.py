"""``python -m receivers`` as a real process: ready line, stats, signals, exit codes."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from websockets.exceptions import ConnectionClosedOK, InvalidStatus

from harness.core.live import FIELD, merge
from harness.core.record_loss import RecordLoss
from harness.io.tls import TlsFiles
from receivers.options import TOKEN_ENV, TRANSPORT_ENV, parse_args
from tests.conftest import seconds
from tests.receivers.helpers import (
    client,
    read_table,
    run_async,
    send_all,
    stream_messages,
)


TOKEN = "main-test-token-4f1c"


class Process:
    """A receiver child process and the JSON lines it printed."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.events: list[dict[str, object]] = []

    async def next_event(self, event: str, timeout: float = 10) -> dict[str, object]:
        """Read stdout until a line with ``event`` (bounded in time)."""
        assert self.proc.stdout is not None
        async with asyncio.timeout(seconds(timeout)):
            while True:
                line = await self.proc.stdout.readline()
                assert line, f"stdout closed before {event!r}"
                self.events.append(json.loads(line))
                if self.events[-1]["event"] == event:
                    return self.events[-1]

    async def finish(self, timeout: float = 15) -> tuple[int, str]:
        """Wait for exit; collect the rest of stdout and all of stderr."""
        async with asyncio.timeout(seconds(timeout)):
            out, err = await self.proc.communicate()
        self.events.extend(json.loads(line) for line in out.decode().splitlines())
        assert self.proc.returncode is not None
        return self.proc.returncode, err.decode()


async def start(
    tls: TlsFiles,
    run_dir: Path,
    *flags: str,
    token: str | None = None,
    transport_env: str | None = None,
) -> tuple[Process, str]:
    env = {k: v for k, v in os.environ.items() if k not in (TOKEN_ENV, TRANSPORT_ENV)}
    if token is not None:
        env[TOKEN_ENV] = token
    if transport_env is not None:
        env[TRANSPORT_ENV] = transport_env
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "receivers",
        "--cert-file",
        str(tls.cert_file),
        "--key-file",
        str(tls.key_file),
        "--run-dir",
        str(run_dir),
        *flags,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    child = Process(proc)
    try:
        ready = await child.next_event("ready")
        url = str(ready["url"])
        assert ready["pid"] == proc.pid and ready["ca_file"] is None
        assert set(ready) == {
            "event", "url", "listen", "local_url", "ca_file", "pid", "run_dir",
            "transport",
        }  # fmt: skip
        if "--transport" in flags:
            assert ready["transport"] == flags[flags.index("--transport") + 1]
        else:
            assert ready["transport"] == (transport_env or "picows")
        assert ready["listen"] == urlsplit(url).netloc
        assert url.startswith("wss://127.0.0.1:")
    except BaseException:
        proc.kill()
        await proc.wait()
        raise
    return child, url


def test_serves_records_and_flushes_on_sigterm(
    transport: str, tls_files: TlsFiles, tmp_path: Path
) -> None:
    sid, messages = stream_messages(30, track="both_tracks")
    open_sid, open_messages = stream_messages(5, stop=False)

    async def scenario() -> tuple[int, str, Process, int | None]:
        child, url = await start(
            tls_files,
            tmp_path,
            *("--stats-interval", "0.1", "--producer", "receiver-7"),
            *("--transport", transport),
        )
        try:
            headers = {"Authorization": "Bearer anything"}  # no token configured
            async with client(url, tls_files, additional_headers=headers) as ws:
                await send_all(ws, messages)
            idle = await client(url, tls_files)
            await send_all(idle, open_messages)
            async with asyncio.timeout(seconds(10)):
                while (await child.next_event("stats"))["frames"] != 65:
                    pass
            child.proc.send_signal(signal.SIGTERM)
            with pytest.raises(ConnectionClosedOK):
                await idle.recv()
            code, err = await child.finish()
            return code, err, child, idle.close_code
        finally:
            if child.proc.returncode is None:
                child.proc.kill()
                await child.proc.wait()

    code, err, child, seen = run_async(scenario, timeout=30)
    assert code == 0, err
    # one line, saying why one stream's stop is not judged
    assert err.splitlines() == [
        "receivers.server: WARNING: shutting down with 1 stream(s) not stopped "
        "by the platform: closed by the receiver, WS-STOP-001 not checked for them"
    ]
    assert seen == 1001
    assert str(child.events[0]["url"]).endswith("/stream")
    last = child.events[-1]
    counts = (
        "event",
        "streams_open",
        "streams_total",
        "frames",
        "violations",
        "refused",
    )
    assert {k: last[k] for k in counts} == {
        "event": "stats",
        "streams_open": 0,
        "streams_total": 2,
        "frames": 65,
        # the stream still open at SIGTERM was cut short by the receiver, not
        # left unstopped by the platform: WS-STOP-001 is not checked for it
        "violations": 0,
        "refused": 0,
    }
    # rows its records lost (none), and its own health: the share of a core
    # its loop used, and the loop's lag
    assert {k: last[k] for k in RecordLoss("r", "receiver").stats()} == {
        "records_failed": 0,
        "records_dropped": 0,
        "record_write_errors": 0,
    }
    assert set(last) - set(counts) - set(RecordLoss("r", "receiver").stats()) == {
        "cpu",
        "lag_p99_ms",
        "lag_max_ms",
        FIELD,
    }
    # and its live figures (harness.core.live): every line's deltas, summed
    live = merge(("r", e[FIELD]) for e in child.events if e["event"] == "stats")
    assert live.gaps == 0
    assert sum(t.frames for t in live.tracks.values()) == 65
    assert 0.0 <= float(last["cpu"]) < 1.5  # type: ignore[arg-type]
    health = read_table(tmp_path, "health")
    assert health and {r["producer"] for r in health} == {"receiver-7"}
    lag = [
        r for r in read_table(tmp_path, "histograms") if r["metric"] == "loop_lag_ns"
    ]
    assert sum(r["count"] for r in lag) == sum(r["lag_samples"] for r in health)
    kept = {
        (r["metric"], r["codec"], r["track"])
        for r in read_table(tmp_path, "histograms")
    }
    assert ("interarrival_ns", "PCMU", "outbound") in kept
    assert len(read_table(tmp_path, "frames")) == 65
    rows = {r["stream_sid"]: r for r in read_table(tmp_path, "streams")}
    assert (rows[sid]["frames"], rows[sid]["violations"], rows[sid]["close_code"]) == (
        60,
        0,
        1000,
    )
    assert (rows[open_sid]["frames"], rows[open_sid]["close_code"]) == (5, 1001)
    assert read_table(tmp_path, "violations") == []
    stop_checks = {
        r["subject"]: r["checks"]
        for r in read_table(tmp_path, "rule_checks")
        if r["rule"] == "WS-STOP-001"
    }
    assert stop_checks == {sid: 1}  # the stopped stream passed; the other: none
    (producer,) = read_table(tmp_path, "producers")
    assert (producer["producer"], producer["kind"]) == ("receiver-7", "receiver")
    assert not list((tmp_path / "records").rglob("*.tmp"))


def test_token_from_env_refuses_strangers_and_never_prints(
    transport: str, tls_files: TlsFiles, tmp_path: Path
) -> None:
    async def scenario() -> tuple[int, str, Process, list[int]]:
        child, url = await start(
            tls_files,
            tmp_path,
            "--stats-interval",
            "0.1",
            "--path",
            "/media",
            "--transport",
            transport,
            token=TOKEN,
        )
        statuses = []
        try:
            for headers in ({}, {"Authorization": "Bearer wrong"}):
                with pytest.raises(InvalidStatus) as info:
                    async with client(url, tls_files, additional_headers=headers):
                        pass
                statuses.append(info.value.response.status_code)
            good = {"Authorization": f"Bearer {TOKEN}"}
            async with client(url, tls_files, additional_headers=good) as ws:
                await send_all(ws, stream_messages(2)[1])
            child.proc.send_signal(signal.SIGINT)
            code, err = await child.finish()
            return code, err, child, statuses
        finally:
            if child.proc.returncode is None:
                child.proc.kill()
                await child.proc.wait()

    code, err, child, statuses = run_async(scenario, timeout=30)
    assert code == 0, err
    assert statuses == [401, 401]
    assert str(child.events[0]["url"]).endswith("/media")
    assert child.events[-1]["refused"] == 2 and child.events[-1]["streams_total"] == 1
    everything = json.dumps(child.events) + err
    for path in (tmp_path / "records").rglob("*.parquet"):
        everything += path.read_bytes().decode("latin-1")
    assert TOKEN not in everything
    handshake = [
        r
        for r in read_table(tmp_path, "rule_checks")
        if r["rule"] == "WS-HANDSHAKE-001"
    ]
    assert sorted((r["checks"], r["failures"]) for r in handshake) == [(1, 0), (2, 2)]


def test_max_duration_exits_by_itself(tls_files: TlsFiles, tmp_path: Path) -> None:
    async def scenario() -> tuple[int, str]:
        # the transport a whole `streamload run` may choose by the environment
        child, _ = await start(
            tls_files, tmp_path, "--max-duration", "0.3", transport_env="websockets"
        )
        return await child.finish()

    code, err = run_async(scenario)
    assert (code, err) == (0, "")
    assert len(read_table(tmp_path, "producers")) == 1


def cli(*args: str) -> tuple[int, str]:
    import subprocess

    done = subprocess.run(
        [sys.executable, "-m", "receivers", *args],
        capture_output=True,
        text=True,
        timeout=seconds(20),
        check=False,
    )
    assert done.stdout == ""
    return done.returncode, done.stderr


def test_bad_flags_exit_2_with_one_line_naming_the_fix(
    tls_files: TlsFiles, tmp_path: Path
) -> None:
    files = [
        "--cert-file",
        str(tls_files.cert_file),
        "--key-file",
        str(tls_files.key_file),
    ]
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        cases = {
            "plain": cli("--tls", "off", "--listen", "0.0.0.0:0"),
            "port": cli(*files, "--run-dir", str(tmp_path), "--port", "70000"),
            "cert": cli("--cert-file", "/nonexistent.pem", "--key-file", "x", "--run-dir", "r"),
            "taken": cli(*files, "--run-dir", str(tmp_path), "--port", port),
            "pair": cli(
                "--cert-file", str(tls_files.key_file), "--key-file", str(tls_files.cert_file),
                "--run-dir", str(tmp_path),
            ),
        }  # fmt: skip
    for name, (code, err) in cases.items():
        assert code == 2, (name, err)
        assert err.count("\n") == 1, (name, err)
    assert cases["plain"][1].startswith(
        "streamload receive: --tls: off on 0.0.0.0 would carry streams"
    )
    assert cases["port"][1] == (
        "streamload receive: --port: 70000 is out of range; use 0..65535 (0 picks one)\n"
    )
    assert cases["cert"][1] == (
        "streamload receive: --cert-file: '/nonexistent.pem' is not a file; "
        "give a PEM file's path\n"
    )
    assert f"--listen: cannot listen on 127.0.0.1:{port}" in cases["taken"][1]
    assert "--cert-file/--key-file: cannot load" in cases["pair"][1]


def test_parse_args_checks_ranges(tls_files: TlsFiles, tmp_path: Path) -> None:
    from harness.core.errors import ConfigError

    base = [
        "--cert-file",
        str(tls_files.cert_file),
        "--key-file",
        str(tls_files.key_file),
    ]
    base += ["--run-dir", str(tmp_path)]
    options = parse_args([*base, "--reuse-port"], environ={TOKEN_ENV: TOKEN})
    assert options.server.reuse_port and options.server.token is not None
    assert TOKEN not in repr(options)
    assert parse_args(base, environ={TOKEN_ENV: ""}).server.token is None
    for flags, text in [
        (["--idle-timeout", "0"], "--idle-timeout: 0.0 is not positive"),
        (["--stats-interval", "nan"], "--stats-interval: nan is not positive"),
        (["--path", "stream"], "--path: 'stream' does not start with /"),
        (["--max-size", "10"], "--max-size: 10 is too small"),
        (["--producer", "a/b"], "--producer: 'a/b' is not a file-name part"),
        (["--processes", "0"], "--processes: 0 is out of range"),
    ]:
        with pytest.raises(ConfigError, match="^" + text.replace("(", r"\(")):
            parse_args([*base, *flags], environ={})
