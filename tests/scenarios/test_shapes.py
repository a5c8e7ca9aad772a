"""Load shapes in a real Locust run: the profile's step shape, bounded, recorded."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from harness.io.tls import TlsFiles
from tests.conftest import seconds
from tests.scenarios.conftest import locust_argv


pytestmark = pytest.mark.e2e

STEP = """
[load]
users = 3
duration = "3s"
hold = "0.2"
wait = "0"
[shape]
kind = "step"
start = 1
step = 1
every = "1s"
[matrix]
codecs = ["PCMU"]
tracks = ["inbound_track"]
params = [0]
"""


def test_a_step_shape_raises_users_level_by_level(
    services: dict[str, Any], tls_files: TlsFiles, tmp_path: Path
) -> None:
    profile = tmp_path / "steps.toml"
    profile.write_text(STEP)
    argv = locust_argv(
        services, tls_files, "--users", "3", "--run-time", "3s", "--sl-run-id", "steps"
    )
    for flag in ("--sl-hold", "--sl-codecs", "--sl-params"):
        assert flag not in argv  # the profile decides
    proc = subprocess.run(
        [sys.executable, *argv, "--sl-profile", str(profile), "--stop-timeout", "5"],
        env={**os.environ, **services["env"]},
        capture_output=True,
        text=True,
        timeout=seconds(60),
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    run: Path = services["run"]
    shape = json.loads((run / "shape.json").read_text())
    assert shape["kind"] == "step" and shape["users"] == 3
    assert [(lv["users"], lv["from_s"], lv["to_s"]) for lv in shape["levels"]] == [
        (1, 0, 1),
        (2, 1, 2),
        (3, 2, 3),
    ]
    rows = [
        r
        for r in pq.read_table(run / "records" / "requests").to_pylist()
        if r["run_id"] == "steps"
    ]
    opened = {r["stream_sid"]: r["sent_ns"] for r in rows if r["kind"] == "start"}
    closed = {r["stream_sid"]: r["done_ns"] for r in rows if r["kind"] == "stop"}
    spans = [(opened[sid], closed.get(sid, opened[sid])) for sid in opened if sid]
    peaks = []
    for level in shape["levels"]:
        begin = shape["start_ns"] + int(level["from_s"] * 1e9)
        end = shape["start_ns"] + int(level["to_s"] * 1e9)
        instants = range(begin, end, 10_000_000)
        peaks.append(max(sum(a <= t < b for a, b in spans) for t in instants))
    # never more streams than the level's users; more users did open more
    assert all(p <= lv["users"] for p, lv in zip(peaks, shape["levels"], strict=True))
    assert max(peaks) >= 2, peaks
    late = [s for s in opened.values() if s >= shape["start_ns"] + 4e9]
    assert late == [], "the shape stops the load (a Locust tick after its end at most)"
