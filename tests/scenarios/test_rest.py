"""StreamUser's requests through scenarios.rest, as Locust and the records see them.

A real Locust run against a real HTTP endpoint (aiohttp, in a child process):
one conference answers every start, one answers HTTP 500, and a second user
class posts to a port nobody listens on. Locust's statistics and failures must
be what ``FastHttpSession`` with ``catch_response`` gave (the messages
``response.failure`` reported), and every request a record.
"""

from __future__ import annotations

import csv
import json
import os
import socket
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from tests.conftest import REPO, seconds


ACCOUNT = str(uuid.uuid4())
GOOD, BAD = str(uuid.uuid4()), str(uuid.uuid4())

ENDPOINT = textwrap.dedent(
    """
    import json, sys, uuid
    from aiohttp import web

    ACCOUNT, BAD = sys.argv[1], sys.argv[2]
    PREFIX = "/api/Accounts/" + ACCOUNT

    def answer(conference, status, name=None):
        sid = str(uuid.uuid4())
        return web.json_response({
            "account_sid": ACCOUNT, "conference_sid": conference,
            "date_updated": "Mon, 30 Oct 2023 15:35:13 +0000", "name": name,
            "sid": sid, "status": status,
            "uri": f"{PREFIX}/Conferences/{conference}/Streams/{sid}.json",
        })

    async def create(request):
        conference = request.match_info["conf"]
        form = await request.post()
        if conference == BAD:
            return web.Response(status=500, text="boom")
        return answer(conference, "in-progress", form.get("Name"))

    async def stop(request):
        return answer(request.match_info["conf"], "stopped")

    app = web.Application()
    app.router.add_post(PREFIX + "/Conferences/{conf}/Streams", create)
    app.router.add_post(PREFIX + "/Conferences/{conf}/Streams/{sid}", stop)

    async def main():
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        print(json.dumps({"port": runner.addresses[0][1]}), flush=True)
        await __import__("asyncio").sleep(300)

    web.asyncio.run(main())
    """
)


SLOW_INIT_S = 2.0
RUN_TIME_S = 3


def _closed_port() -> int:
    """A loopback port nobody listens on (bound, never listened, then closed)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", ENDPOINT, ACCOUNT, BAD],
        stdout=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # bounded: the child prints or dies
        assert line, "the endpoint did not start"
        yield f"http://127.0.0.1:{json.loads(line)['port']}/api"
    finally:
        proc.kill()
        proc.wait(seconds(10))
        if proc.stdout is not None:
            proc.stdout.close()


@pytest.fixture(scope="module")
def run(endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("rest-run")
    locustfile = root / "lf.py"
    locustfile.write_text(
        textwrap.dedent(
            f"""
            import time
            from locust import events

            @events.init.add_listener
            def _slow_init(**_):
                # an init as slow as a busy host's form encoding: the run must
                # still last its --run-time (scenarios.listeners refreshes
                # gevent's cached clock after the init listeners before it)
                # (busy, as encoding is: time.sleep is gevent's here, and a
                # gevent sleep would refresh the clock itself)
                end = time.perf_counter() + {SLOW_INIT_S}
                while time.perf_counter() < end:
                    pass

            import scenarios.listeners
            import scenarios.users as users  # not the class: Locust would run it too

            class Live(users.StreamUser):
                host = {endpoint!r}

            class Dead(users.StreamUser):
                host = "http://127.0.0.1:{_closed_port()}/api"
            """
        )
    )
    argv = [
        *("-m", "locust", "-f", str(locustfile), "--headless", "--only-summary"),
        *("--users", "4", "--spawn-rate", "4", "--run-time", f"{RUN_TIME_S}s"),
        *("--stop-timeout", "5", "--loglevel", "WARNING"),
        *("--exit-code-on-error", "0", "--csv", str(root / "stats")),
        *("--sl-run-dir", str(root / "run"), "--sl-account-sid", ACCOUNT),
        *("--sl-conferences", f"{GOOD},{BAD}", "--sl-hold", "0.05"),
        *("--sl-wait", "0", "--sl-receiver-url", "wss://127.0.0.1:9/stream"),
    ]
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "SIGNALWIRE_API_TOKEN": "rest-test-token",
        "STREAMLOAD_BEARER_TOKEN": "rest-test-bearer",
    }
    proc = subprocess.run(
        [sys.executable, *argv],
        env=env,
        capture_output=True,
        text=True,
        timeout=seconds(60),
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return {
        "stats": _rows(root / "stats_stats.csv"),
        "failures": _rows(root / "stats_failures.csv"),
        "requests": pq.read_table(root / "run" / "records" / "requests").to_pylist(),
    }


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open() as f:
        return list(csv.DictReader(f))


def test_failures_carry_the_messages_catch_response_gave(run: dict[str, Any]) -> None:
    errors = {
        (r["Method"], r["Name"], r["Error"])
        for r in run["failures"]
        if int(r["Occurrences"]) > 0
    }
    assert errors == {
        ("POST", "create_stream", "CatchResponseError('HTTP 500: boom')"),
        (
            "POST",
            "create_stream",
            "CatchResponseError('no answer: ConnectionRefusedError')",
        ),
    }


def test_locust_counts_what_the_records_hold(run: dict[str, Any]) -> None:
    """Successes and failures alike reach Locust's statistics.

    Locust writes its statistics when the run stops; a request a stopping
    user finishes after that is recorded but not counted (main's
    ``catch_response`` path too), so the counts are compared as at most.
    """
    stats = {r["Name"]: r for r in run["stats"]}
    starts = [r for r in run["requests"] if r["kind"] == "start"]
    stops = [r for r in run["requests"] if r["kind"] == "stop"]
    create = stats["create_stream"]
    assert 0 < int(create["Request Count"]) <= len(starts)
    failures = int(create["Failure Count"])
    assert 0 < failures <= sum(1 for r in starts if r["error"])
    assert failures < int(create["Request Count"])  # the good conference's pass
    answered = [r for r in starts if r["stream_sid"]]
    assert answered and all(r["status"] == 200 and not r["error"] for r in answered)
    assert {r["error"] for r in starts if not r["stream_sid"]} == {
        "HTTP 500: boom",
        "no answer: ConnectionRefusedError",
    }
    stopped = [r for n, r in stats.items() if n.startswith("stop_stream_by_")]
    assert 0 < sum(int(r["Request Count"]) for r in stopped) <= len(stops)
    assert all(int(r["Failure Count"]) == 0 for r in stopped)
    assert float(create["Average Content Size"]) > 0


def test_the_load_lasts_its_run_time_after_a_slow_init(run: dict[str, Any]) -> None:
    """Locust arms ``--run-time`` right after its init listeners, from gevent's
    cached clock: a 2 s init once left a 3 s run under 1 s of load."""
    sent = [int(r["sent_ns"]) for r in run["requests"]]
    assert (max(sent) - min(sent)) / 1e9 > RUN_TIME_S - 1.0
