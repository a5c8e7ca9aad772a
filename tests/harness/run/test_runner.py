"""harness.run.runner with real processes: a service that refuses to start stops the run cleanly."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest

from harness.io import provenance
from harness.io.profile_file import load_profile
from harness.run.cli import main
from harness.run.runner import RunOptions, _Run


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
