"""Tie every process of a run to the process that started it: none outlives ``streamload``.

The services of a run (receivers, callback sink, platform, Locust, judge,
negative suite, report) run in their own sessions, so a terminal's Ctrl-C
reaches only the CLI, which stops them in order. That same isolation means
nothing ends them when the CLI dies without stopping them (``kill -9``, an
OOM kill, a CI runner's last SIGKILL): they would keep running, holding ports
and writing records, until their ``--max-duration``.

A parent hands :func:`child_env` to each child it starts; the child calls
:func:`arm` first thing. From then on:

* Linux delivers SIGTERM to the child the moment its parent dies
  (``prctl(PR_SET_PDEATHSIG)``), so it stops the way it stops on any SIGTERM:
  streams closed, records flushed.
* A watchdog thread sees the parent go (``getppid()`` changes when the process
  is re-parented; this also covers systems without ``prctl``) and kills the
  process outright :data:`GRACE_S` seconds later if its own shutdown has not
  ended it by then.
* The race between ``fork`` and :func:`arm` (the parent died before the child
  armed) is closed by checking the parent is still the pid the parent wrote
  into the environment.
* :func:`arm` writes its own pid into the environment, so the programs it
  starts (receiver workers, platform workers) arm against it in turn, and it
  sets the parent-death signal in children it forks without exec (Locust's
  ``--processes`` workers): a chain, each link ended by the death of the one
  above it.

A process started without :data:`ENV` (a service run by hand) is left alone.
Linux's parent-death signal follows the parent *thread* that forked the
child, so children must be started from a thread that lives as long as the
process (the main thread or the event loop's thread, as everywhere here).
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import time
from collections.abc import Callable, MutableMapping
from typing import Any


__all__ = ["ENV", "GRACE_S", "arm", "child_env"]

ENV = "STREAMLOAD_PARENT_PID"
"""The pid a child expects as its parent; set by :func:`child_env` and :func:`arm`."""

GRACE_S = 15.0
"""Seconds a process whose parent died has to finish its own shutdown before
it is killed (every service's own shutdown is bounded below this)."""

_POLL_S = 0.25
_PR_SET_PDEATHSIG = 1
_state: dict[str, Any] = {"armed": False, "grace": GRACE_S, "fork_hook": False}


def child_env() -> dict[str, str]:
    """The environment entry a parent gives a child it starts, to tie it to itself."""
    return {ENV: str(os.getpid())}


def arm(
    grace_s: float = GRACE_S, environ: MutableMapping[str, str] | None = None
) -> bool:
    """Tie this process's life to its parent's; return whether it was tied.

    Call it first thing in a service's entry point. Does nothing (``False``)
    when :data:`ENV` is unset or not a pid: the process was started by hand.
    If the parent is already gone, this process gets SIGTERM at once.
    """
    env = os.environ if environ is None else environ
    try:
        expected = int(env.get(ENV, ""))
    except ValueError:
        return False
    if expected <= 0:
        return False
    _state["grace"] = grace_s
    _tie(expected)
    env[ENV] = str(os.getpid())  # our own children expect us
    if not _state["fork_hook"]:
        _state["fork_hook"] = True
        os.register_at_fork(after_in_child=_after_fork)
    return True


def _after_fork() -> None:
    """In a forked child: tie it to the process that forked it.

    Runs in Locust's ``--processes`` workers (a fork without exec), but also
    between fork and exec where a library runs the fork hooks (uvloop's
    spawn): so only a system call here, no thread and no change to the
    environment the exec'd program inherits (it arms itself).
    """
    if not _state["armed"]:
        return
    parent = int(os.environ.get(ENV, "0") or 0)
    _set_parent_death_signal(signal.SIGTERM)
    if parent > 0 and os.getppid() != parent:  # the forker is already gone
        os.kill(os.getpid(), signal.SIGTERM)


def _tie(expected: int) -> None:
    _state["armed"] = True
    _make_sigterm_deliverable()
    signalled = _set_parent_death_signal(signal.SIGTERM)
    if os.getppid() != expected:  # the parent died before we could arm
        os.kill(os.getpid(), signal.SIGTERM)
        signalled = True
    _start_thread(_watch, expected, signalled)


def _make_sigterm_deliverable() -> None:
    """Undo a SIGTERM that whatever started the run ignores or blocks.

    Both survive ``exec``: a CI runner (or ``nohup``-like wrapper) that starts
    ``streamload`` with SIGTERM ignored or blocked hands that on to every
    service, and then neither the parent-death signal nor the run's own stop
    reaches a service without a handler of its own; it would live until the
    watchdog's SIGKILL, without its shutdown. A process of a run must be
    stoppable by the run, so an armed process takes SIGTERM's default back.
    """
    try:
        if signal.getsignal(signal.SIGTERM) == signal.SIG_IGN:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
    except ValueError:  # not the main thread: its handlers are not ours to set
        pass


def _set_parent_death_signal(sig: int) -> bool:
    """``prctl(PR_SET_PDEATHSIG, sig)``; False where there is no such call."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)  # libc is in the process already
        return int(libc.prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def _watch(expected: int, signalled: bool) -> None:
    """Watchdog thread: once the parent is gone, SIGTERM (if the kernel did not), then SIGKILL."""
    sleep = _original("time", "sleep", time.sleep)
    while os.getppid() == expected:
        sleep(_POLL_S)
    if not signalled:
        os.kill(os.getpid(), signal.SIGTERM)
    sleep(float(_state["grace"]))
    os.kill(os.getpid(), signal.SIGKILL)


def _start_thread(target: Callable[..., None], *args: object) -> None:
    """Start a real OS thread, even where gevent (Locust) has patched threads into greenlets."""
    import _thread

    start = _original("_thread", "start_new_thread", _thread.start_new_thread)
    start(target, args)


def _original(module: str, name: str, default: Any) -> Any:
    """The unpatched ``module.name`` when gevent's monkey patching is loaded."""
    monkey = sys.modules.get("gevent.monkey")
    return default if monkey is None else monkey.get_original(module, name)
