"""The lifeline: a child started with it ends when its parent dies, however the parent dies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from harness.io import lifeline
from tests.conftest import seconds


# A middle process: starts a tied child (exec'd) and, with "fork", a forked one;
# prints their pids, then sleeps until killed.
MIDDLE = """
import os, subprocess, sys, time
from harness.io import lifeline
assert lifeline.arm()
child = subprocess.Popen([sys.executable, "-c", sys.argv[1]])
pids = [child.pid]
if sys.argv[2] == "fork":
    pid = os.fork()
    if pid == 0:
        time.sleep(60)
        os._exit(0)
    pids.append(pid)
print(" ".join(map(str, pids)), flush=True)
time.sleep(60)
"""
# The child: arms, then ignores SIGTERM when told to (a stuck shutdown).
CHILD = """
import signal, time
from harness.io import lifeline
assert lifeline.arm(grace_s=1.0)
if {stuck}:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
print("armed", flush=True)
time.sleep(60)
"""


def _ignore_sigterm() -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def _block_sigterm() -> None:
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})


# How whatever starts a run may hand SIGTERM on (both survive exec; a CI
# runner that did so left every service of a killed run alive).
STARTERS: dict[str, Callable[[], None] | None] = {
    "default": None,
    "ignored": _ignore_sigterm,
    "blocked": _block_sigterm,
}


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _wait_gone(pids: list[int], timeout: float) -> list[int]:
    deadline = time.monotonic() + seconds(timeout)
    while (left := [p for p in pids if _alive(p)]) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


def _middle(
    child_code: str, mode: str, starter: Callable[[], None] | None = None
) -> tuple[subprocess.Popen[str], list[int]]:
    middle = subprocess.Popen(
        [sys.executable, "-c", MIDDLE, child_code, mode],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, **lifeline.child_env()},
        preexec_fn=starter,
    )
    assert middle.stdout is not None
    pids = [int(p) for p in middle.stdout.readline().split()]
    assert middle.stdout.readline() == "armed\n"  # the child shares the pipe
    return middle, pids


def _kill(pids: list[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


@pytest.mark.parametrize("starter", STARTERS)
def test_children_and_forked_children_end_when_their_parent_is_killed(
    starter: str,
) -> None:
    middle, pids = _middle(CHILD.format(stuck=False), "fork", STARTERS[starter])
    try:
        assert all(_alive(p) for p in pids)
        middle.kill()  # kill -9: no chance to stop anything
        middle.wait()
        assert _wait_gone(pids, 5) == []
    finally:
        _kill([middle.pid, *pids])
        middle.wait()
        assert middle.stdout is not None
        middle.stdout.close()


def test_a_child_that_ignores_sigterm_is_killed_after_the_grace() -> None:
    middle, pids = _middle(CHILD.format(stuck=True), "exec")
    try:
        middle.kill()
        middle.wait()
        time.sleep(0.3)
        assert _alive(pids[0]), "SIGTERM is ignored: the grace (1 s) applies"
        assert _wait_gone(pids, 5) == []
    finally:
        _kill([middle.pid, *pids])
        middle.wait()
        assert middle.stdout is not None
        middle.stdout.close()


@pytest.mark.parametrize("starter", STARTERS)
def test_a_child_whose_parent_died_before_it_armed_ends_at_once(starter: str) -> None:
    # the fork race: the pid in the environment is not our parent any more
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "from harness.io import lifeline; lifeline.arm(); "
            "import time; time.sleep(30)",
        ],  # fmt: skip
        env={**os.environ, lifeline.ENV: str(2**22 + 1)},
        timeout=seconds(20),
        check=False,
        preexec_fn=STARTERS[starter],
    )
    assert proc.returncode == -signal.SIGTERM


def test_without_the_variable_nothing_is_tied() -> None:
    env: dict[str, str] = {}
    assert lifeline.arm(environ=env) is False
    assert lifeline.arm(environ={lifeline.ENV: "not a pid"}) is False
    assert env == {}


def test_arming_hands_our_own_pid_to_our_children() -> None:
    code = (
        "import os; from harness.io import lifeline; assert lifeline.arm(); "
        "print(os.environ[lifeline.ENV] == str(os.getpid()))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, **lifeline.child_env()},
        capture_output=True,
        text=True,
        timeout=seconds(20),
        check=True,
    )
    assert out.stdout.strip() == "True"
