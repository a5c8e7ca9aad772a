"""Ctrl-C during a run: everything stops in order, the report is still written."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.conftest import seconds


pytestmark = pytest.mark.e2e


def test_sigint_stops_cleanly_and_still_reports(tmp_path: Path) -> None:
    out = tmp_path / "run"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "harness.run.cli",
            "run",
            "--duration",
            "60s",
            "--users",
            "3",
            "--hold",
            "5",
            "--out",
            str(out),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + seconds(60)
    assert proc.stderr is not None
    for line in proc.stderr:  # progress lines show frames flowing: then interrupt
        if (
            "received" in line
            and "received 0 " not in line
            and "streams 0 live" not in line
        ):
            break
        assert time.monotonic() < deadline, "no progress line with frames"
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=seconds(90))
    assert proc.returncode == 130, stderr[-2000:]
    summary = json.loads((out / "summary.json").read_text())
    accounting = summary["accounting"]
    assert accounting["requests_started_ok"] >= 1
    assert accounting["unaccounted"] == 0, accounting["unaccounted_examples"]
    pids = [p["pid"] for p in pq.read_table(out / "records" / "producers").to_pylist()]
    assert [pid for pid in pids if Path(f"/proc/{pid}").exists()] == []
