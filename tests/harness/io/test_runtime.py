"""harness.io.runtime: the interpreter settings a timed event loop runs under."""

from __future__ import annotations

import subprocess
import sys

from harness.io.runtime import GC_THRESHOLDS, SWITCH_INTERVAL_S


def test_settle_freezes_what_exists_and_sets_thresholds_and_switch_interval() -> None:
    # In a child: the settings are process-wide and must not leak into the tests.
    code = (
        "import gc, sys\n"
        "from harness.io import runtime\n"
        "keep = [[i] for i in range(1000)]\n"
        "runtime.settle()\n"
        "print(gc.get_threshold(), sys.getswitchinterval(), gc.get_freeze_count() > 1000)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.split("\n")[0] == f"{GC_THRESHOLDS} {SWITCH_INTERVAL_S} True"
