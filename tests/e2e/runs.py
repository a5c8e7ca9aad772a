"""Run the real ``streamload`` CLI for the end-to-end tests."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from tests.conftest import seconds


API_TOKEN = "e2e-api-token-Zq8Kx1"
BEARER = "e2e-bearer-token-Wm4Tp7"
SECRETS = {
    "STREAMLOAD_PLATFORM_TOKEN": API_TOKEN,
    "STREAMLOAD_BEARER_TOKEN": BEARER,
}
"""Pinned so a test can grep every file of a run for them."""


def streamload(
    *args: str, env: Mapping[str, str] | None = None, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    """``python -m harness.run.cli ARGS`` to completion, output captured."""
    return subprocess.run(
        [sys.executable, "-m", "harness.run.cli", *args],
        capture_output=True,
        text=True,
        timeout=seconds(timeout),
        stdin=subprocess.DEVNULL,
        env={**os.environ, **SECRETS, **(env or {})},
    )


def table(run: Path, name: str) -> list[dict[str, Any]]:
    path = run / "records" / name
    return pq.read_table(path).to_pylist() if path.exists() else []


def summary(run: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((run / "summary.json").read_text())
    return doc


def ready_line(
    proc: subprocess.Popen[bytes] | subprocess.Popen[str],
    timeout: float,
    *,
    event: str | None = "ready",
) -> dict[str, Any]:
    """The first JSON line on ``proc``'s stdout whose ``event`` is ``event``
    (any line when ``None``); fails naming the exit code when it never comes."""
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        readable, _, _ = select.select([proc.stdout], [], [], 0.2)
        if readable:
            line = proc.stdout.readline()
            if not line:
                break
            doc: dict[str, Any] = json.loads(line)
            if event is None or doc.get("event") == event:
                return doc
        elif proc.poll() is not None:
            break
    raise AssertionError(f"no ready line (exit {proc.poll()})")
