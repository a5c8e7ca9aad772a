"""Child processes of a run: start, wait for the ready line, read stats, stop in order.

Part of the CLI's I/O edge. Each service prints one JSON ``ready`` line on
stdout, then ``stats`` lines; stderr goes to a log file in the run directory.
Children run in their own sessions so a terminal's Ctrl-C reaches only the
CLI, which then stops them in the right order; each is tied to the CLI by
:mod:`harness.io.lifeline`, so none outlives it however it ends.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from harness.core.errors import HarnessError
from harness.core.lines import EVENT, READY, STATS, decode
from harness.io import lifeline


__all__ = ["Child", "kill_all", "started"]

_EXIT_GRACE_S = 5.0
_STARTED: list[Child] = []
"""Every child started and not yet stopped, for :func:`kill_all`."""


def started() -> list[Child]:
    """The children started and not yet stopped, oldest first."""
    return list(_STARTED)


def kill_all() -> None:
    """SIGKILL every running child's process group at once (a run stopped hard).

    Safe in a signal handler: it only reads state and sends signals. A child
    already reaped is skipped, so a reused pid is never signalled.
    """
    for child in _STARTED:
        if child.proc.returncode is None:
            try:
                os.killpg(child.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


class Child:
    """One service process and what it has said on stdout."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        log_dir: Path,
        env: Mapping[str, str] | None = None,
        json_lines: bool = True,
        on_stats: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        """``on_stats`` is called with every ``stats`` line, on the reader thread."""
        self.name = name
        self._on_stats = on_stats
        log_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = log_dir / f"{name}.log"
        self._log: IO[bytes] = self.log_path.open("wb")
        self.ready: dict[str, Any] | None = None
        self.stats: dict[str, Any] = {}
        self._ready_event = threading.Event()
        self.proc = subprocess.Popen(
            [sys.executable, *argv],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE if json_lines else self._log,
            stderr=self._log,
            # tied to this process (harness.io.lifeline): it ends when we end
            env={**os.environ, **(env or {}), **lifeline.child_env()},
            start_new_session=True,
        )
        _STARTED.append(self)
        self._reader: threading.Thread | None = None
        if json_lines:
            self._reader = threading.Thread(
                target=self._read, name=f"{name}-stdout", daemon=True
            )
            self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            line = decode(raw)
            if line is None:
                self._log.write(raw)
                continue
            if line.get(EVENT) == READY and self.ready is None:
                self.ready = line
                self._ready_event.set()
            elif line.get(EVENT) == STATS:
                self.stats = line
                if self._on_stats is not None:
                    self._on_stats(line)
        self._ready_event.set()  # EOF: wake any waiter; ready stays None

    def wait_ready(self, timeout: float) -> dict[str, Any]:
        """Block until the ready line; raise if the child dies or is too slow."""
        self._ready_event.wait(timeout)
        if self.ready is None:
            try:  # stdout closed: the exit status follows within moments
                code: int | None = self.proc.wait(_EXIT_GRACE_S)
            except subprocess.TimeoutExpired:
                code = None
            state = (
                f"exited with code {code}"
                if code is not None
                else f"not ready after {timeout:.0f}s"
            )
            raise HarnessError(f"{self.name} {state}; see {self.log_path}")
        return self.ready

    def alive(self) -> bool:
        return self.proc.poll() is None

    def send(self, sig: signal.Signals) -> None:
        """Send ``sig`` to the child's whole process group (Locust workers included)."""
        if self.alive():
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                pass

    def stop(self, timeout: float, sig: signal.Signals = signal.SIGTERM) -> int:
        """Ask the child to stop; kill it if it has not exited within ``timeout``."""
        self.send(sig)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.send(signal.SIGKILL)
            code = self.proc.wait(10)
        self._kill_group()
        self._close()
        return code

    def _close(self) -> None:
        if self in _STARTED:
            _STARTED.remove(self)
        if self._reader is not None:
            self._reader.join(5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self._log.close()

    def _kill_group(self) -> None:
        # Nothing may outlive the run: sweep any grandchild left in the group.
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def wait(self, timeout: float) -> int | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            code = self.proc.poll()
            if code is not None:
                return code
            time.sleep(0.1)
        return None
