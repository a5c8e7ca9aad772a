"""A one-shot wake-up at an exact ``CLOCK_MONOTONIC`` time, for the shared ticker.

uvloop rounds a timer's delay to whole milliseconds and counts it from a
millisecond clock, so ``call_later`` fires up to ~1 ms early or late
(docs/performance.md §3). Sleeping again for the rest after an early wake-up spins
the loop at every bucket edge, which is what cost the ticker a busy core. A
Linux ``timerfd`` armed at an absolute deadline makes the poll itself return
at the deadline (plus the kernel's ~50 µs timer slack), for one syscall per
wake-up and no CPU while waiting. Where there is no timerfd, the alarm falls
back to ``call_later`` with the delay rounded up to a whole millisecond plus
one: never early, never spinning, up to ~2 ms late.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import os
import sys
import time
from collections.abc import Callable


__all__ = ["Alarm"]

_CLOCK_MONOTONIC = 1
_TFD_TIMER_ABSTIME = 1


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


class _Itimerspec(ctypes.Structure):
    _fields_ = [("it_interval", _Timespec), ("it_value", _Timespec)]


def _load_timerfd() -> tuple[Callable[..., int], Callable[..., int]] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        create, settime = libc.timerfd_create, libc.timerfd_settime
    except (OSError, AttributeError):
        return None
    create.argtypes = (ctypes.c_int, ctypes.c_int)
    create.restype = ctypes.c_int
    settime.argtypes = (
        ctypes.c_int,
        ctypes.c_int,
        ctypes.POINTER(_Itimerspec),
        ctypes.c_void_p,
    )
    settime.restype = ctypes.c_int
    return create, settime


_TIMERFD = _load_timerfd()


class Alarm:
    """Call ``callback`` once at (never before) the time given to :meth:`set`.

    One alarm is pending at a time: :meth:`set` replaces it. Create it on the
    running loop; :meth:`close` it when done (it holds a file descriptor).
    """

    def __init__(self, callback: Callable[[], None], *, precise: bool = True) -> None:
        self._loop = asyncio.get_running_loop()
        self._callback = callback
        self._handle: asyncio.TimerHandle | None = None
        self._spec = _Itimerspec()
        self._fd = -1
        if precise and _TIMERFD is not None:
            fd = _TIMERFD[0](_CLOCK_MONOTONIC, os.O_NONBLOCK | os.O_CLOEXEC)
            if fd >= 0:
                self._fd = fd
                self._loop.add_reader(fd, self._ring)

    @property
    def precise(self) -> bool:
        """Whether a timerfd backs the alarm (else ``call_later``, up to ~2 ms late)."""
        return self._fd >= 0

    def set(self, at_ns: int) -> None:
        """Ring at ``at_ns`` (``time.monotonic_ns`` clock); a past time rings at once."""
        if self._fd >= 0:
            value = self._spec.it_value
            at_ns = max(at_ns, 1)  # 0 would disarm
            value.tv_sec, value.tv_nsec = divmod(at_ns, 1_000_000_000)
            if _TIMERFD is not None and (
                _TIMERFD[1](
                    self._fd, _TFD_TIMER_ABSTIME, ctypes.byref(self._spec), None
                )
                == 0
            ):
                return
            self._close_fd()  # the kernel refused: fall back for good
        if self._handle is not None:
            self._handle.cancel()
        rest_ns = at_ns - time.monotonic_ns()
        delay_ms = -(-rest_ns // 1_000_000) + 1 if rest_ns > 0 else 0
        self._handle = self._loop.call_later(delay_ms / 1000, self._late_ring, at_ns)

    def cancel(self) -> None:
        """Forget the pending ring, if any."""
        if self._fd >= 0:
            value = self._spec.it_value
            value.tv_sec = value.tv_nsec = 0
            if _TIMERFD is not None:
                _TIMERFD[1](
                    self._fd, _TFD_TIMER_ABSTIME, ctypes.byref(self._spec), None
                )
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def close(self) -> None:
        self.cancel()
        self._close_fd()

    def _close_fd(self) -> None:
        fd, self._fd = self._fd, -1
        if fd >= 0:
            self._loop.remove_reader(fd)
            os.close(fd)

    def _ring(self) -> None:
        try:
            os.read(self._fd, 8)  # the expiration count; clears readiness
        except BlockingIOError:  # re-armed after it fired: nothing is due yet
            return
        self._callback()

    def _late_ring(self, at_ns: int) -> None:
        self._handle = None
        if time.monotonic_ns() < at_ns:  # a ms-clock timer can still be early
            self.set(at_ns)
            return
        self._callback()
