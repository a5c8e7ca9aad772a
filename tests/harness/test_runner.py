"""harness.runner with real processes: a service that refuses to start stops the run cleanly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.cli import main


pytestmark = pytest.mark.e2e


def test_a_platform_that_refuses_its_options_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    code = main(["run", "--fault", "no-such-fault=1", "--out", str(out), "--quiet"])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith(
        "streamload run: --fault/--defect/--seed: the reference platform refused its options; see "
    )
    assert "platform.log" in err
    assert "no-such-fault" in (out / "logs" / "platform.log").read_text()
    doc = json.loads((out / "run.json").read_text())
    assert doc["profile"] == "default" and doc["target"] == "reference"
    assert json.loads((out / "profile.json").read_text())["platform"]["faults"] == [
        "no-such-fault=1"
    ]
    assert not (out / "summary.json").exists()  # nothing ran, nothing to judge
