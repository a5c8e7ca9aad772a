"""Child processes with real subprocesses (a tiny Python service)."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from harness.core.errors import HarnessError
from harness.run.processes import Child
from tests.conftest import seconds


SERVICE = """
import json, signal, sys, time
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
print("not json", flush=True)
print(json.dumps({"event": "ready", "url": "x"}), flush=True)
for i in range(600):
    print(json.dumps({"event": "stats", "n": i}), flush=True)
    time.sleep(0.05)
"""


def test_ready_stats_and_orderly_stop(tmp_path: Path) -> None:
    child = Child("svc", ["-c", SERVICE], log_dir=tmp_path)
    assert child.wait_ready(seconds(20)) == {"event": "ready", "url": "x"}
    assert child.alive()
    assert child.stop(seconds(10)) == 0
    assert not child.alive()
    assert "not json" in child.log_path.read_text()


def test_a_child_that_dies_before_ready_is_reported(tmp_path: Path) -> None:
    child = Child("dead", ["-c", "import sys; sys.exit(4)"], log_dir=tmp_path)
    with pytest.raises(HarnessError, match=r"dead exited with code 4; see .*dead\.log"):
        child.wait_ready(seconds(20))
    assert child.stop(seconds(5)) == 4


def test_a_child_that_ignores_sigterm_is_killed(tmp_path: Path) -> None:
    script = (
        "import json, signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "print(json.dumps({'event': 'ready'}), flush=True)\ntime.sleep(60)"
    )
    child = Child("stubborn", ["-c", script], log_dir=tmp_path)
    child.wait_ready(seconds(20))
    assert child.stop(0.5) == -signal.SIGKILL


def test_a_child_without_json_lines_logs_stdout_and_stops(tmp_path: Path) -> None:
    child = Child(
        "plain",
        ["-c", "print('hello', flush=True)"],
        log_dir=tmp_path,
        json_lines=False,
    )
    assert child.wait(seconds(20)) == 0
    assert child.stop(seconds(5)) == 0
    assert child.log_path.read_text() == "hello\n"
