"""``python -m harness.platform`` as a real process: ready line, REST, SIGTERM, flushed records."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pyarrow.parquet as pq
import pytest

from harness.core.correlation import Expectation
from harness.core.errors import ConfigError
from harness.io.tls import TlsFiles, client_context
from harness.platform.__main__ import Options, build_parser
from tests.conftest import seconds
from tests.harness.platform.support import Receiver, basic, run


TOKEN = "main-test-token-0123456789"


def env(**extra: str) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SIGNALWIRE_")}
    return {**clean, **extra}


def args(tls: TlsFiles, run_dir: Path, *more: str) -> list[str]:
    return [
        sys.executable, "-m", "harness.platform",
        "--cert-file", str(tls.cert_file),
        "--key-file", str(tls.key_file),
        "--ca-file", str(tls.ca_file),
        "--run-dir", str(run_dir),
        *more,
    ]  # fmt: skip


@asynccontextmanager
async def platform_process(
    argv: list[str], environ: dict[str, str]
) -> AsyncIterator[tuple[asyncio.subprocess.Process, dict[str, Any]]]:
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=environ,
    )
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), seconds(20))
        assert line, "the platform exited before its ready line"
        yield proc, json.loads(line)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


def read(run_dir: Path, table: str) -> list[dict[str, Any]]:
    files = sorted((run_dir / "records" / table).glob("*.parquet"))
    return [row for f in files for row in pq.read_table(f).to_pylist()]


def test_without_a_token_one_is_made_and_written_only_to_a_private_file(
    tls_files: TlsFiles, tmp_path: Path
) -> None:
    done = subprocess.run(
        [*args(tls_files, tmp_path), "--max-duration", "0.5"],
        env=env(),
        capture_output=True,
        text=True,
        timeout=seconds(30),
    )
    assert done.returncode == 0, done.stderr
    ready = json.loads(done.stdout.splitlines()[0])
    token_file = Path(ready["token_file"])
    assert token_file == tmp_path / "api-token"
    assert token_file.stat().st_mode & 0o777 == 0o600
    token = token_file.read_text().strip()
    assert len(token) >= 24
    assert token not in done.stdout + done.stderr


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--conferences", "-1"], "--conferences: -1 is too few; use 0 or more"),
        (["--max-duration", "0"], "--max-duration: 0.0 is not positive; use e.g. 3600"),
        (
            ["--stats-interval", "-1"],
            "--stats-interval: -1.0 is not positive; use e.g. 1.0",
        ),
        (
            ["--port", "70000"],
            "--port: 70000 is out of range; use 0..65535 (0 picks one)",
        ),
    ],
)
def test_options_name_the_field(extra: list[str], message: str) -> None:
    ns = build_parser().parse_args(
        ["--cert-file", "c", "--key-file", "k", "--run-dir", "r", *extra]
    )
    with pytest.raises(ConfigError) as caught:
        Options.from_args(ns, {"SIGNALWIRE_API_TOKEN": "t"})
    assert str(caught.value) == message


def test_token_from_environment_and_defaults() -> None:
    ns = build_parser().parse_args(
        ["--cert-file", "c", "--key-file", "k", "--run-dir", "r"]
    )
    options = Options.from_args(ns, {"SIGNALWIRE_API_TOKEN": "from-env"})
    assert options.token.matches("from-env")
    assert (options.host, options.port, options.conferences) == ("127.0.0.1", 0, 3)
    assert options.validate_certificate is False
    assert options.signing_key is None
    assert "from-env" not in repr(options)


def test_serve_stream_sigterm_and_records(tls_files: TlsFiles, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    expectation = Expectation("run-7", "req-1", "PCMU", "both_tracks", 0, "0" * 16)

    async def main() -> None:
        argv = args(tls_files, run_dir, "--stats-interval", "0.2", "--conferences", "2")
        async with (
            Receiver(tls_files) as receiver,
            platform_process(argv, env(SIGNALWIRE_API_TOKEN=TOKEN)) as (proc, ready),
        ):
            assert set(ready) == {
                "event",
                "url",
                "listen",
                "local_url",
                "dial_ca_file",
                "token_file",
                "run_dir",
                "account_sid",
                "conferences",
                "calls",
                "ca_file",
                "pid",
                "faults",
                "defects",
                "seed",
                "workers",
            }
            assert (ready["faults"], ready["defects"]) == ({}, [])
            assert isinstance(ready["seed"], int) and len(ready["calls"]) == 3
            assert ready["event"] == "ready" and ready["pid"] == proc.pid
            assert ready["url"].startswith("https://127.0.0.1:")
            assert ready["url"].endswith("/api/laml/2010-04-01")
            assert ready["dial_ca_file"] == str(tls_files.ca_file)
            assert (ready["ca_file"], ready["token_file"]) == (None, None)
            assert len(ready["conferences"]) == 2
            account, conference = ready["account_sid"], ready["conferences"][0]
            streams = (
                f"{ready['url']}/Accounts/{account}/Conferences/{conference}/Streams"
            )
            connector = aiohttp.TCPConnector(ssl=client_context(tls_files.ca_file))
            async with aiohttp.ClientSession(
                connector=connector, headers=basic(account, TOKEN)
            ) as http:
                form = {
                    "Url": receiver.url,
                    "Name": "first",
                    "Parameter1.Name": "streamload",
                    "Parameter1.Value": expectation.encode(),
                }
                async with http.post(streams, data=form) as r:
                    assert r.status == 200
                    first = await r.json()
                await receiver.wait_media(0, 6)
                async with http.post(
                    f"{streams}/first.json", data={"Status": "stopped"}
                ) as r:
                    assert (r.status, (await r.json())["status"]) == (200, "stopped")
                await receiver.wait_closed(0)
                async with http.post(
                    streams + ".json", data={"Url": receiver.url}
                ) as r:
                    assert r.status == 200
                    second = await r.json()
                await receiver.wait_media(1, 4)
            assert proc.stdout is not None
            stats: dict[str, Any] = {}
            async with asyncio.timeout(seconds(10)):
                while (
                    stats.get("frames_sent", 0) == 0 or stats.get("streams_total") != 2
                ):
                    stats = json.loads(await proc.stdout.readline())
            assert stats["event"] == "stats" and stats["streams_active"] == 1
            proc.send_signal(signal.SIGTERM)
            out, err = await asyncio.wait_for(proc.communicate(), seconds(20))
            assert proc.returncode == 0, err.decode()
            conn = await receiver.wait_closed(1)
            assert conn.events()[-1] == "stop"  # shutdown sends stop
        for line in out.decode().splitlines():
            assert json.loads(line)["event"] == "stats"
        assert TOKEN not in out.decode() + err.decode()
        by_sid = {row["stream_sid"]: row for row in read(run_dir, "platform_streams")}
        assert by_sid[first["sid"]]["end_reason"] == "stopped"
        assert by_sid[first["sid"]]["request_id"] == "req-1"
        assert by_sid[second["sid"]]["end_reason"] == "shutdown"
        sent = read(run_dir, "sent_frames")
        received = [(c, m) for c in receiver.connections for m in c.media()]
        assert len(sent) == len(received)
        assert sum(r["frames_sent"] for r in by_sid.values()) == len(sent)
        assert read(run_dir, "producers")[0]["producer"] == "platform"

    run(main(), timeout=60)


def test_max_duration_ends_the_process_by_itself(
    tls_files: TlsFiles, tmp_path: Path
) -> None:
    async def main() -> None:
        argv = args(tls_files, tmp_path, "--max-duration", "0.3", "--auth-token", TOKEN)
        async with platform_process(argv, env()) as (proc, ready):
            assert ready["event"] == "ready"
            _, err = await asyncio.wait_for(proc.communicate(), seconds(20))
            assert proc.returncode == 0, err.decode()
            assert b"--max-duration" in err

    run(main())


def test_unreadable_certificate_is_a_usage_error(tmp_path: Path) -> None:
    argv = [
        sys.executable, "-m", "harness.platform",
        "--cert-file", str(tmp_path / "missing.pem"),
        "--key-file", str(tmp_path / "missing.key"),
        "--run-dir", str(tmp_path),
        "--auth-token", TOKEN,
    ]  # fmt: skip
    done = subprocess.run(
        argv, env=env(), capture_output=True, text=True, timeout=seconds(30)
    )
    assert done.returncode == 2
    assert done.stderr.startswith(
        "error: --cert-file/--key-file/--ca-file: cannot load"
    )


def test_unwritable_run_dir_is_a_usage_error(
    tls_files: TlsFiles, tmp_path: Path
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    argv = args(tls_files, blocker / "run", "--auth-token", TOKEN)
    done = subprocess.run(
        argv, env=env(), capture_output=True, text=True, timeout=seconds(30)
    )
    assert done.returncode == 2
    assert done.stderr.startswith("error: --run-dir: cannot create")


def test_faults_and_defects_are_echoed_and_logged(
    tls_files: TlsFiles, tmp_path: Path
) -> None:
    run_dir = tmp_path / "run"

    async def main() -> None:
        argv = args(
            tls_files, run_dir,
            "--auth-token", TOKEN,
            "--seed", "7",
            "--fault", "loss=0.3",
            "--fault", "delay=10ms",
            "--fault", "jitter=normal:1ms",
            "--defect", "version",
            "--defect", "seq-skip",
        )  # fmt: skip
        async with (
            Receiver(tls_files) as receiver,
            platform_process(argv, env()) as (proc, ready),
        ):
            assert ready["faults"] == {
                "delay": "10ms",
                "jitter": "normal:1ms",
                "loss": "0.3",
            }
            assert ready["defects"] == ["seq-skip", "version"]
            assert ready["seed"] == 7
            account, conference = ready["account_sid"], ready["conferences"][0]
            streams = (
                f"{ready['url']}/Accounts/{account}/Conferences/{conference}/Streams"
            )
            connector = aiohttp.TCPConnector(ssl=client_context(tls_files.ca_file))
            async with aiohttp.ClientSession(
                connector=connector, headers=basic(account, TOKEN)
            ) as http:
                async with http.post(streams, data={"Url": receiver.url}) as r:
                    assert r.status == 200
            await receiver.wait_media(0, 10)
            proc.send_signal(signal.SIGTERM)
            _, err = await asyncio.wait_for(proc.communicate(), seconds(20))
            assert proc.returncode == 0, err.decode()
            assert b"misbehaving on purpose" in err
            conn = await receiver.wait_closed(0)
        assert conn.messages[0]["version"] == "9.9.9"
        sent = read(run_dir, "sent_frames")
        lost = {(f["track"], f["chunk"]) for f in sent if f["wire_ns"] == 0}
        events = read(run_dir, "impairments")
        assert {(e["track"], e["chunk"]) for e in events if e["kind"] == "loss"} == lost
        assert lost
        got = {(m["media"]["track"], int(m["media"]["chunk"])) for m in conn.media()}
        assert got == {(f["track"], f["chunk"]) for f in sent if f["wire_ns"]}
        for f in sent:
            if f["wire_ns"]:
                assert f["wire_ns"] - f["sent_ns"] >= 10_000_000
        health = read(run_dir, "health")
        assert health and {h["kind"] for h in health} == {"platform"}

    run(main(), timeout=60)


def test_unknown_fault_or_defect_is_a_usage_error(
    tls_files: TlsFiles, tmp_path: Path
) -> None:
    for extra, message in (
        (["--fault", "latency=5ms"], "error: --fault: unknown impairment 'latency'"),
        (["--defect", "late-stop"], "error: --defect: unknown defect 'late-stop'"),
    ):
        done = subprocess.run(
            args(tls_files, tmp_path, "--auth-token", TOKEN, *extra),
            env=env(),
            capture_output=True,
            text=True,
            timeout=seconds(30),
        )
        assert done.returncode == 2
        assert done.stderr.startswith(message) and done.stderr.count("\n") == 1


def test_a_second_sigterm_does_not_cut_the_shutdown_short(
    tls_files: TlsFiles, tmp_path: Path
) -> None:
    async def main() -> None:
        argv = args(tls_files, tmp_path, "--auth-token", TOKEN)
        async with platform_process(argv, env()) as (proc, ready):
            assert ready["event"] == "ready"
            proc.send_signal(signal.SIGTERM)
            for _ in range(20):  # keep signalling through the whole shutdown
                if proc.returncode is not None:
                    break
                proc.send_signal(signal.SIGTERM)
                try:
                    await asyncio.wait_for(proc.wait(), 0.02)
                except TimeoutError:
                    pass
            _, err = await asyncio.wait_for(proc.communicate(), seconds(20))
            assert proc.returncode == 0, err.decode()

    run(main())
