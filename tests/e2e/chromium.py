"""Headless Chromium (Debian's package) driven over its DevTools pipe, offline.

The report must be judged as a person sees it: what is on the first screen of
a 1400x900 window, laid out by a real browser. Chromium's
``--remote-debugging-pipe`` speaks the DevTools protocol over file descriptors
3 (to Chromium) and 4 (from it), NUL-terminated JSON, so no port, no
WebSocket client and nothing in the page: the layout is read by evaluating an
expression from outside, after the page loaded with the network cut off
(a dead proxy, and DevTools' offline emulation), while every request the page
made is recorded.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import signal
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final


__all__ = ["CHROMIUM", "Page", "find_chromium", "open_page"]

CHROMIUM: Final = "/usr/bin/chromium"
WIDTH: Final = 1400
HEIGHT: Final = 900
_FLAGS: Final = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    f"--window-size={WIDTH},{HEIGHT}",
    "--hide-scrollbars",
    # the network is cut: every load that is not a file goes to a closed port
    "--proxy-server=127.0.0.1:9",
    "--proxy-bypass-list=<-loopback>",
    "--remote-debugging-pipe",
)


def find_chromium() -> str | None:
    """Debian's chromium, or ``None``."""
    if os.access(CHROMIUM, os.X_OK):
        return CHROMIUM
    return shutil.which("chromium")


class Page:
    """One page of a Chromium started with :func:`open_page`."""

    def __init__(self, proc: subprocess.Popen[bytes], to: int, back: int) -> None:
        self.proc = proc
        self.to = to
        self.back = back
        self.buffer = b""
        self.next_id = 0
        self.session = ""
        self.events: list[dict[str, Any]] = []

    def call(
        self, method: str, params: Mapping[str, Any] | None = None, timeout: float = 10
    ) -> dict[str, Any]:
        """Send a command and wait (bounded) for its answer; events are kept."""
        self.next_id += 1
        message: dict[str, Any] = {"id": self.next_id, "method": method}
        message["params"] = dict(params or {})
        if self.session:
            message["sessionId"] = self.session
        os.write(self.to, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._read(timeout)
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                result: dict[str, Any] = reply.get("result", {})
                return result
            self.events.append(reply)

    def wait_event(self, method: str, timeout: float = 10) -> dict[str, Any]:
        """The first event ``method`` (already received or coming)."""
        for event in self.events:
            if event.get("method") == method:
                return event
        deadline = time.monotonic() + timeout
        while True:
            event = self._read(max(0.01, deadline - time.monotonic()))
            self.events.append(event)
            if event.get("method") == method:
                return event

    def _read(self, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while b"\0" not in self.buffer:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self.back], [], [], max(0.0, left))
            if not ready:
                raise TimeoutError(f"chromium said nothing for {timeout} s")
            chunk = os.read(self.back, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed its DevTools pipe")
            self.buffer += chunk
        text, _, self.buffer = self.buffer.partition(b"\0")
        doc: dict[str, Any] = json.loads(text)
        return doc

    def evaluate(self, expression: str) -> Any:
        """The JSON value of ``expression`` in the page."""
        result = self.call(
            "Runtime.evaluate", {"expression": expression, "returnByValue": True}
        )
        return result["result"].get("value")

    def screenshot(self, path: Path) -> Path:
        """The viewport as a PNG."""
        data = self.call("Page.captureScreenshot", {"format": "png"})["data"]
        path.write_bytes(base64.b64decode(data))
        return path

    def requested(self) -> list[str]:
        """Every URL the page asked for, as the network layer saw it."""
        return [
            str(e["params"]["request"]["url"])
            for e in self.events
            if e.get("method") == "Network.requestWillBeSent"
        ]

    def close(self) -> None:
        """End Chromium and every process it started (its own process group)."""
        try:
            self.session = ""
            self.call("Browser.close", timeout=3)
        except (OSError, RuntimeError, TimeoutError):
            pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)  # helpers left behind
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=5)
        for fd in (self.to, self.back):
            os.close(fd)


def _high(fd: int) -> int:
    """``fd`` moved to a descriptor number of 10 or more."""
    high = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return high


def open_page(chromium: str, url: str, profile_dir: Path, log: Path) -> Page:
    """Start Chromium offline, load ``url`` at 1400x900 and wait for its load event."""
    to_read, to_write = os.pipe()
    back_read, back_write = os.pipe()
    # above 4, so that moving one to 3 or 4 cannot close the other
    to_read, back_write = (_high(fd) for fd in (to_read, back_write))

    # fd 3 reads commands, fd 4 answers: the shell moves the pipes there
    moves = f"3<&{to_read} 4>&{back_write} {to_read}<&- {back_write}>&-"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            ["bash", "-c", f'exec "$@" {moves}', "chromium", chromium, *_FLAGS]
            + [f"--user-data-dir={profile_dir}", "about:blank"],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            pass_fds=(to_read, back_write),
            start_new_session=True,
        )
    os.close(to_read)
    os.close(back_write)
    page = Page(proc, to_write, back_read)
    try:
        targets = page.call("Target.getTargets", timeout=20)["targetInfos"]
        target = next(t for t in targets if t["type"] == "page")
        page.session = page.call(
            "Target.attachToTarget", {"targetId": target["targetId"], "flatten": True}
        )["sessionId"]
        page.call("Network.enable")
        page.call(
            "Network.emulateNetworkConditions",
            {
                "offline": True,
                "latency": 0,
                "downloadThroughput": 0,
                "uploadThroughput": 0,
            },
        )
        page.call("Page.enable")
        page.call(
            "Emulation.setDeviceMetricsOverride",
            {"width": WIDTH, "height": HEIGHT, "deviceScaleFactor": 1, "mobile": False},
        )
        page.call("Page.navigate", {"url": url})
        page.wait_event("Page.loadEventFired", timeout=15)
    except BaseException:
        page.close()
        raise
    return page
