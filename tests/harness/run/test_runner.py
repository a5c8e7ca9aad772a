"""harness.run.runner with real processes: a service that refuses to start stops the run cleanly."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest

from harness.io import provenance
from harness.io.profile_file import load_profile
from harness.run import runner
from harness.run.cli import main
from harness.run.runner import RunOptions, _Run
from harness.run.scaleout import ScaleOut


pytestmark = pytest.mark.e2e


def test_a_platform_that_refuses_its_options_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    code = main(
        ["run", "--fault", "no-such-fault=1", "--out", str(out), "--quiet"]
        + ["--tag", "build=42", "--tag", "branch=main"]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith(
        "streamload run: --fault/--defect/--seed: the reference platform refused its options; see "
    )
    assert "platform.log" in err
    assert "no-such-fault" in (out / "logs" / "platform.log").read_text()
    doc = json.loads((out / "run.json").read_text())
    assert doc["profile"] == "default" and doc["target"] == "reference"
    # what the report's header and summary.json show later (streamload report)
    assert doc["tags"] == {"build": "42", "branch": "main"}
    assert doc["version"] == provenance.version()
    assert doc["git_commit"] == provenance.git_commit()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", doc["started_wall"])
    assert json.loads((out / "profile.json").read_text())["platform"]["faults"] == [
        "no-such-fault=1"
    ]
    assert not (out / "summary.json").exists()  # nothing ran, nothing to judge


def test_the_embedded_platform_may_dial_the_runs_own_services(tmp_path: Path) -> None:
    """Issue 13 item 10: what ``--allow-dial`` the run gives its own platform."""
    base = RunOptions(profile=load_profile("smoke"), out=tmp_path, quiet=True)
    assert _Run(base)._dial_addresses() == []  # loopback only: nothing to add
    run = _Run(
        dataclasses.replace(
            base,
            receiver_host="198.18.0.3",
            receiver_url="wss://rx.example.com/stream",
            receiver_url_open="wss://rx.example.com/open",
            callback_url="https://[2001:db8::7]:8443/callbacks",
            callback_host="0.0.0.0",
        )
    )
    assert run._dial_addresses() == [
        "198.18.0.3",
        "rx.example.com",
        "[2001:db8::7]:8443",
    ]


def test_remote_records_join_the_run_and_a_name_clash_is_a_record_fault(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """docs/scale-out.md: ``--join-records``; two hosts at one ``--producer``
    would overwrite each other, so the second part is a fault, not a copy."""

    def part(root: Path, table: str, name: str, data: bytes) -> None:
        path = root / "records" / table / f"{name}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    rx1, rx2, out = tmp_path / "rx1", tmp_path / "rx2", tmp_path / "run"
    part(rx1, "frames", "receiver-0-000001", b"one")
    part(rx2, "frames", "receiver-0-000001", b"two")
    part(rx2, "health", "receiver-0-000002", b"h")
    opts = RunOptions(
        profile=load_profile("smoke"),
        out=out,
        quiet=True,
        scale_out=ScaleOut(join_records=(rx1, rx2)),
    )
    run = _Run(opts)
    monkeypatch.setattr(runner, "_RECORDS_QUIET_S", 0.01)
    run.join_records()
    assert (out / "records" / "frames" / "receiver-0-000001.parquet").read_bytes() == (
        b"one"
    )
    assert (out / "records" / "health" / "receiver-0-000002.parquet").exists()
    whats = [e["what"] for e in run.events]
    assert f"records joined: 1 part(s) from {rx1}" in whats
    assert any("share a name with another host's" in w for w in whats)
    assert [f["producer"] for f in run.record_faults()] == [str(rx2)]
