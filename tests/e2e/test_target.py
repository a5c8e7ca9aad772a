"""A real-platform run (``--target``) whose platform dies midway still reports what and when."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.io.tls import TlsFiles
from harness.run.processes import Child
from tests.conftest import seconds
from tests.e2e.runs import SECRETS, summary, table


pytestmark = pytest.mark.e2e

PROJECT = str(uuid.uuid4())
TOKEN = "target-api-token-Vb3Nq8"


@pytest.fixture
def platform(tmp_path: Path, tls_files: TlsFiles) -> Iterator[Child]:
    """A reference platform started apart from the run, as a real one would be."""
    child = Child(
        "target",
        [
            "-m", "harness.platform", "--cert-file", str(tls_files.cert_file),
            "--key-file", str(tls_files.key_file), "--run-dir", str(tmp_path / "target"),
            "--account-sid", PROJECT, "--max-duration", "120",
        ],
        log_dir=tmp_path / "target-logs",
        env={"SIGNALWIRE_API_TOKEN": TOKEN},
    )  # fmt: skip
    try:
        yield child
    finally:
        child.stop(seconds(20))


def test_a_target_that_dies_midway_still_gets_a_report(
    platform: Child, tls_files: TlsFiles, tmp_path: Path
) -> None:
    url = str(platform.wait_ready(seconds(60))["url"])
    out = tmp_path / "run"
    env = {
        **os.environ,
        **SECRETS,
        "SIGNALWIRE_PROJECT_ID": PROJECT,
        "SIGNALWIRE_API_TOKEN": TOKEN,
    }
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "harness.run.cli", "run", "--profile", "smoke",
            "--duration", "6s", "--target", url, "--target-ca-file", str(tls_files.ca_file),
            "--out", str(out),
            # the load's frames must be the ones seen before the kill, not the
            # negative suite's (it finds a conference on its own now)
            "--negative", "off",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
        env=env,
    )  # fmt: skip
    assert proc.stderr is not None
    deadline = time.monotonic() + seconds(60)
    for line in proc.stderr:  # frames flow through the target: then kill it
        if "frames received" in line and "frames received 0 " not in line:
            break
        assert time.monotonic() < deadline, "no progress line with frames"
    platform.send(signal.SIGKILL)
    killed_at = time.monotonic()
    stdout, stderr = proc.communicate(timeout=seconds(120))
    assert proc.returncode == 1, stderr[-3000:]
    assert TOKEN not in stdout + stderr
    doc = summary(out)
    assert json.loads((out / "run.json").read_text())["target"] == url
    failed = {g["name"] for g in doc["thresholds"] if g["result"] == "fail"}
    assert "requests.error_ratio" in failed
    incidents = doc["timeline"]["incidents"]
    assert incidents and incidents[0]["from_s"] > 0
    assert incidents[0]["statuses"].get("0", 0) > 0  # no answer: connection refused
    text = (out / "report.md").read_text()
    assert "## What failed and when" in text and "ConnectionRefusedError" in text
    ok = [r for r in table(out, "requests") if r["status"] == 200]
    assert ok, "requests before the failure were answered and recorded"
    assert time.monotonic() - killed_at < seconds(90)
    leaks = [
        p for p in out.rglob("*") if p.is_file() and TOKEN.encode() in p.read_bytes()
    ]
    assert leaks == []
