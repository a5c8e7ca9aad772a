"""``streamload capacity`` finds the knee a test sets up: a platform that takes 5 streams."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.processes import Child
from harness.tls import TlsFiles
from tests.conftest import seconds
from tests.e2e.runs import streamload, summary


pytestmark = pytest.mark.e2e

PROJECT = str(uuid.uuid4())
TOKEN = "capacity-api-token-Hx7Rw2"
KNEE = """
extends = "capacity"
[load]
users = 8
spawn_rate = 8
duration = "10s"
hold = "0.8-1"
wait = "0"
[shape]
start = 2
step = 2
every = "2.5s"
[capacity]
require = 2
[matrix]
bearer_token = [true]
[conformance]
negative = false
[thresholds]
"jitter_ms.p99" = "off"
"harness.saturated" = "off"  # this test shares a busy 2-core machine
"setup_ms.p99" = "<= 3000"
"""


@pytest.fixture
def limited_target(tmp_path: Path, tls_files: TlsFiles) -> Iterator[str]:
    """A reference platform behind a proxy that refuses a 6th concurrent stream."""
    platform = Child(
        "target",
        [
            "-m", "harness.platform", "--cert-file", str(tls_files.cert_file),
            "--key-file", str(tls_files.key_file), "--run-dir", str(tmp_path / "target"),
            "--account-sid", PROJECT, "--max-duration", "120",
        ],
        log_dir=tmp_path / "logs",
        env={"SIGNALWIRE_API_TOKEN": TOKEN},
    )  # fmt: skip
    try:
        upstream = str(platform.wait_ready(seconds(60))["url"])
        proxy = Child(
            "knee",
            ["-m", "tests.e2e.knee", "--upstream", upstream,
             "--ca-file", str(tls_files.ca_file), "--limit", "5"],
            log_dir=tmp_path / "logs",
        )  # fmt: skip
        try:
            yield str(proxy.wait_ready(seconds(60))["url"])
        finally:
            proxy.stop(seconds(10))
    finally:
        platform.stop(seconds(20))


def test_the_search_reports_the_largest_level_that_held(
    limited_target: str, tmp_path: Path
) -> None:
    profile = tmp_path / "knee.toml"
    profile.write_text(KNEE)
    out = tmp_path / "run"
    proc = streamload(
        *("capacity", "--profile", str(profile), "--target", limited_target),
        *("--out", str(out), "--quiet"),
        env={"SIGNALWIRE_PROJECT_ID": PROJECT, "SIGNALWIRE_API_TOKEN": TOKEN},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = summary(out)["capacity"]
    assert result["largest_held"] == 4, result
    assert result["first_broken"] == 6
    assert "requests.error_ratio" in result["broken_by"]
    levels = [(lv["users"], lv["result"]) for lv in result["levels"]]
    assert levels[:3] == [(2, "pass"), (4, "pass"), (6, "fail")]
    (gate,) = summary(out)["thresholds"]
    assert (
        gate["name"] == "capacity" and gate["value"] == 4 and gate["result"] == "pass"
    )
    text = (out / "report.md").read_text()
    assert "**4 concurrent users held every gate.**" in text
    assert "At 6 users these broke: " in text
