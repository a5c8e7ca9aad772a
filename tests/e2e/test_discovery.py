"""A real-platform run without ``--conference-sids``: the negative suite finds a conference.

The reference platform runs alone (``python -m harness.platform``), as a real
space would, and the run is pointed at it with ``--target``: nothing tells the
run its conferences, so it lists them through the API as the load does.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.io.tls import TlsFiles
from harness.run.processes import Child
from tests.conftest import seconds
from tests.e2e.runs import streamload, summary, table


pytestmark = pytest.mark.e2e

PROJECT = str(uuid.uuid4())
TOKEN = "discovery-api-token-Hn5Vc2"
ENV = {"SIGNALWIRE_PROJECT_ID": PROJECT, "SIGNALWIRE_API_TOKEN": TOKEN}


def target(
    tmp_path: Path, tls_files: TlsFiles, name: str, *extra: str
) -> Iterator[str]:
    """A reference platform started apart from the run; yields its base URL."""
    child = Child(
        name,
        [
            "-m", "harness.platform", "--cert-file", str(tls_files.cert_file),
            "--key-file", str(tls_files.key_file), "--run-dir", str(tmp_path / name),
            "--account-sid", PROJECT, "--max-duration", "120", *extra,
        ],
        log_dir=tmp_path / "target-logs",
        env={"SIGNALWIRE_API_TOKEN": TOKEN},
    )  # fmt: skip
    try:
        url = str(child.wait_ready(seconds(60))["url"])
        yield url.removesuffix("/api/laml/2010-04-01")
    finally:
        child.stop(seconds(20))


@pytest.fixture
def lenient(tmp_path: Path, tls_files: TlsFiles) -> Iterator[str]:
    """A platform that takes a ws:// Url: only the negative suite can tell."""
    yield from target(tmp_path, tls_files, "lenient", "--defect", "accept-ws-url")


@pytest.fixture
def idle(tmp_path: Path, tls_files: TlsFiles) -> Iterator[str]:
    """A platform with no conference in progress."""
    yield from target(tmp_path, tls_files, "idle", "--conferences", "0")


def test_without_conference_sids_the_negative_suite_runs_and_catches_ws_urls(
    lenient: str, tls_files: TlsFiles, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    done = streamload(
        "run", "--profile", "smoke", "--duration", "4s", "--target", lenient,
        "--target-ca-file", str(tls_files.ca_file), "--out", str(out), "--quiet",
        env=ENV,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr[-3000:]
    assert "gate failed: conformance" in done.stderr
    assert "REST-REJECT-001" in done.stderr
    run = json.loads((out / "run.json").read_text())
    assert run["negative"] == {"state": "ran", "why": "exit 1"}
    assert (run["callback_sink"], run["signing_key"]) == (True, False)
    events = [e["what"] for e in run["events"]]
    assert "conferences discovered: 3 in progress" in events
    assert "negative suite finished (exit 1)" in events
    negative = [r for r in table(out, "rule_checks") if r["source"] == "negative"]
    assert {r["rule"] for r in negative} >= {"REST-REJECT-001", "REST-REJECT-008"}
    doc = summary(out)
    assert doc["conformance"]["results"]["REST-REJECT-001"]["verdict"] == "fail"
    # everything else the matrix can exercise was checked; what was not says why
    gates = {g["name"]: g for g in doc["thresholds"]}
    assert gates["coverage"]["result"] == "pass", gates["coverage"]["message"]
    unchecked = {e["rule"]: e for e in doc["conformance"]["not_checked_rules"]}
    assert set(unchecked) == {"WS-SID-001", "WS-DIALECT-002", "CB-004"}
    assert unchecked["CB-004"]["fix"].startswith("export SIGNALWIRE_SIGNING_KEY")
    first_screen = (out / "report.md").read_text().split("## Accounting")[0]
    assert "3 of " in first_screen and "CB-004: needs the key" in first_screen


@pytest.mark.parametrize("command", ["run", "conform"])
def test_a_target_with_no_conference_stops_before_the_load_with_exit_2(
    command: str, idle: str, tls_files: TlsFiles, tmp_path: Path
) -> None:
    out = tmp_path / command
    done = streamload(
        command, "--target", idle, "--target-ca-file", str(tls_files.ca_file),
        "--out", str(out), env=ENV, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr[-3000:]
    assert done.stderr.splitlines()[-1] == (
        "streamload run: --conference-sids: no in-progress conference on the "
        "target; start one (a call into a conference) or give --conference-sids"
    )
    assert not (out / "records").exists() and not (out / "logs").exists()
    assert TOKEN not in done.stdout + done.stderr


def test_conference_sids_skip_discovery(
    idle: str, tls_files: TlsFiles, tmp_path: Path
) -> None:
    """Named conferences are taken as given: the load's own failures tell the rest."""
    out = tmp_path / "named"
    done = streamload(
        "conform", "--target", idle, "--target-ca-file", str(tls_files.ca_file),
        "--conference-sids", "CF-none", "--out", str(out), "--quiet",
        env=ENV, timeout=120,
    )  # fmt: skip
    events = [e["what"] for e in json.loads((out / "run.json").read_text())["events"]]
    assert not any(e.startswith("conferences discovered") for e in events)
    assert "negative suite started" in events
    assert done.returncode == 1, done.stderr[-3000:]
