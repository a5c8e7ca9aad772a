"""scenarios.media_tab: Locust's real web UI shows live.json's figures in a Media tab."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from harness.core.live import COLUMNS, LIVE_FILE, table_rows
from tests.conftest import REPO, seconds


DOC = {
    "elapsed_s": 3.5,
    "finished": False,
    "violations": 0,
    "codecs": {
        "PCMU": {
            "codec": "PCMU", "streams_live": 2, "streams_started": 3, "frames": 400,
            "lost": 1, "loss_ratio": 0.002494, "transit_p50_ms": 0.2,
            "transit_p99_ms": 4.1, "jitter_p99_ms": 0.9,
        },
        "L16@16000h": {
            "codec": "L16@16000h", "streams_live": 1, "streams_started": 1, "frames": 90,
            "lost": 0, "loss_ratio": 0.0, "transit_p50_ms": 0.1,
            "transit_p99_ms": 2.0, "jitter_p99_ms": 0.5,
        },
    },
    "tracks": {},
    "gaps": 0,
}  # fmt: skip


def _get(url: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (loopback)
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, None


def test_the_tab_serves_live_json_rows(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    ui = f"http://127.0.0.1:{port}"
    argv = [
        *("-m", "locust", "-f", str(REPO / "scenarios" / "locustfile.py")),
        *("--web-host", "127.0.0.1", "--web-port", str(port)),
        *("--host", "https://127.0.0.1:9/api", "--loglevel", "WARNING"),
        *("--sl-run-dir", str(tmp_path), "--sl-receiver-url", "wss://127.0.0.1:9/s"),
    ]
    env = {
        **os.environ,
        "SIGNALWIRE_API_TOKEN": "tab-test-token",
        "STREAMLOAD_BEARER_TOKEN": "tab-test-bearer",
        "SIGNALWIRE_PROJECT_ID": "AC-tab-test",
    }
    log = tmp_path / "locust.log"
    with log.open("wb") as err:
        proc = subprocess.Popen(
            [sys.executable, *argv],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
            env=env,
        )
    try:
        status, stats = 0, None
        deadline = time.monotonic() + seconds(20)
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                status, stats = _get(f"{ui}/stats/requests")
                break
            except (urllib.error.URLError, OSError):
                time.sleep(0.2)
        assert status == 200 and stats is not None, log.read_text()
        assert stats["extended_stats"] == [{"key": "media", "data": []}]  # no file yet
        (tmp_path / LIVE_FILE).write_text(json.dumps(DOC))
        _, stats = _get(f"{ui}/stats/requests")
        rows = stats["extended_stats"][0]["data"]
        assert rows == table_rows(DOC)
        assert [r["codec"] for r in rows] == ["L16@16000h", "PCMU"]
        assert list(rows[0]) == [key for key, _ in COLUMNS]
        assert _get(f"{ui}/media/live") == (200, DOC)
        with urllib.request.urlopen(ui, timeout=2) as page:  # noqa: S310 (loopback)
            html = page.read().decode()
        assert '"extended_tabs": [{"key": "media", "title": "Media"}]' in html
    finally:
        proc.kill()
        proc.wait()
