"""``--workers``: streams handed to worker processes behind one API, end to end."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path

import aiohttp

from harness.core.secret import Secret
from harness.io.tls import TlsFiles, client_context
from tests.conftest import seconds
from tests.harness.platform.support import Receiver, basic, make_stream, run
from tests.harness.platform.test_main import TOKEN, args, env, platform_process, read


def test_a_stream_crosses_the_pipe_unchanged() -> None:
    from harness.platform.workers import request_from_json, request_to_json

    stream = make_stream(
        "conf",
        name="n",
        track="both_tracks",
        codec="L16@16000h",
        real_time=True,
        status_callback="https://127.0.0.1:9/cb",
        status_callback_method="GET",
        parameters=(("a", "1"), ("b", "")),
        bearer_token=Secret("bearer-xyz"),
    )
    again = request_from_json(json.loads(json.dumps(request_to_json(stream))))
    assert again == stream
    assert again.request.bearer_token is not None
    assert again.request.bearer_token.reveal() == "bearer-xyz"
    bare = make_stream("conf")
    assert request_from_json(request_to_json(bare)) == bare


def test_two_workers_share_the_streams(tls_files: TlsFiles, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"

    async def main() -> None:
        argv = args(tls_files, run_dir, "--auth-token", TOKEN, "--workers", "2")
        async with (
            Receiver(tls_files) as receiver,
            platform_process(argv, env()) as (proc, ready),
        ):
            assert ready["workers"] == 2
            account = ready["account_sid"]
            base = f"{ready['url']}/Accounts/{account}"
            conference = f"{base}/Conferences/{ready['conferences'][0]}/Streams"
            call = f"{base}/Calls/{ready['calls'][0]}/Streams"
            connector = aiohttp.TCPConnector(ssl=client_context(tls_files.ca_file))
            async with aiohttp.ClientSession(
                connector=connector, headers=basic(account, TOKEN)
            ) as http:
                sids = []
                for i, url in enumerate((conference, conference, conference, call)):
                    form = {"Url": receiver.url, "Name": f"s{i}"}
                    async with http.post(url, data=form) as r:
                        assert r.status == 200
                        sids.append((await r.json())["sid"])
                async with http.post(
                    url, data={"Url": receiver.url, "Name": "s3"}
                ) as r:
                    assert r.status == 422  # names are checked in one registry
                await receiver.wait(
                    lambda: (
                        len(receiver.connections) == 4
                        and all(len(c.media()) >= 4 for c in receiver.connections)
                    )
                )
                async with http.post(
                    f"{conference}/s0.json", data={"Status": "stopped"}
                ) as r:
                    assert (r.status, (await r.json())["sid"]) == (200, sids[0])
                await receiver.wait(lambda: any(c.closed for c in receiver.connections))
            proc.send_signal(signal.SIGTERM)
            _, err = await asyncio.wait_for(proc.communicate(), seconds(30))
            assert proc.returncode == 0, err.decode()
            for i in range(4):
                conn = await receiver.wait_closed(i)
                assert conn.events()[-1] == "stop"
        streams = read(run_dir, "platform_streams")
        assert sorted(r["stream_sid"] for r in streams) == sorted(sids)
        reasons = {r["stream_sid"]: r["end_reason"] for r in streams}
        assert reasons[sids[0]] == "stopped"
        assert {reasons[s] for s in sids[1:]} == {"shutdown"}
        producers = {r["producer"] for r in read(run_dir, "producers")}
        assert producers == {"platform", "platform-w1", "platform-w2"}
        sent = read(run_dir, "sent_frames")
        received = [m for c in receiver.connections for m in c.media()]
        assert len(sent) == len(received)
        kinds = {r["producer"] for r in read(run_dir, "health")}
        assert {"platform-w1", "platform-w2"} <= kinds

    run(main(), timeout=60)


def test_workers_is_at_least_one(tls_files: TlsFiles, tmp_path: Path) -> None:
    import subprocess

    done = subprocess.run(
        args(tls_files, tmp_path, "--auth-token", TOKEN, "--workers", "0"),
        env=env(),
        capture_output=True,
        text=True,
        timeout=seconds(30),
    )
    assert done.returncode == 2
    assert done.stderr == "error: --workers: 0 is too few; use 1 (in process) or more\n"
