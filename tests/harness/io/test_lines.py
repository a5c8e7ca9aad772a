"""harness.io.lines: the ready/stats lines as a parent reads them from a real pipe."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest

from harness.core.lines import decode
from harness.io.lines import emit


def test_emit_prints_one_compact_json_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    emit("stats", frames=3, cpu=0.5)
    assert capsys.readouterr().out == '{"event":"stats","frames":3,"cpu":0.5}\n'
    closed = io.StringIO()
    closed.close()
    monkeypatch.setattr(sys, "stdout", closed)
    emit("stats", frames=4)  # nobody reading: no error


def test_a_child_s_lines_decode_in_order_and_a_gone_reader_is_no_failure() -> None:
    code = (
        "from harness.io.lines import emit\n"
        "emit('ready', url='wss://127.0.0.1:1/stream', pid=1)\n"
        "print('a warning from some library')\n"
        "emit('stats', frames=2)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, check=True
    ).stdout
    lines = [decode(raw) for raw in out.splitlines()]
    assert lines == [
        {"event": "ready", "url": "wss://127.0.0.1:1/stream", "pid": 1},
        None,
        {"event": "stats", "frames": 2},
    ]
    # the parent closes the pipe first: emitting raises nothing in the child
    survive = (
        "import sys, time\nfrom harness.io.lines import emit\ntime.sleep(0.2)\n"
        "emit('stats', frames=1)\nemit('stats', frames=2)\n"
        "print('survived', file=sys.stderr)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", survive],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None
    proc.stdout.close()
    _, err = proc.communicate(timeout=30)
    assert b"survived" in err, err
