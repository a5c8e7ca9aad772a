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


def test_thresholds_bound_young_and_middle_passes_and_keep_full_ones_rare() -> None:
    # What each pass may walk (scripts/bench_tails.py measures what that costs):
    # young passes at most threshold0 objects, middle ones threshold0 x threshold1;
    # full passes no more often than with the old (50_000, 20, 100).
    young, middle, full = GC_THRESHOLDS
    assert young <= 5_000
    assert young * middle <= 20_000
    assert young * middle * full >= 50_000 * 20 * 100
