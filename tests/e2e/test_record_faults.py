"""The harness's trouble is the harness's (issue 13, items 3-5 and the bounded writer).

Real runs on loopback: a small tmpfs as the run directory that fills and frees,
a receiver killed mid-run, a record writer held to a tiny backlog. In each, the
verdict is ``incomplete`` (exit 3), the report names the producer, and no loss
or accounting gate fails in the platform's name.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from tests.conftest import seconds
from tests.e2e.runs import SECRETS


pytestmark = pytest.mark.e2e

RUN = ("--duration", "5s", "--users", "2", "--hold", "1-2", "--quiet")
"""A tiny run: two users, five seconds."""


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """An 8 MB tmpfs, unmounted whatever happens."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(disk: Path) -> Path:
    """Take every free byte of ``disk`` with one file; return it (unlink to free)."""
    ballast = disk / "ballast"
    fd = os.open(ballast, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (1 << 20, 4096):  # unbuffered: ENOSPC ends each loop
            chunk = b"\0" * size
            with contextlib.suppress(OSError):
                while True:
                    os.write(fd, chunk)
    finally:
        os.close(fd)
    return ballast


_STARTED: list[subprocess.Popen[str]] = []


@pytest.fixture(autouse=True)
def _stop_left_runs() -> Iterator[None]:
    """A failed test must not leave its run going: interrupt it (it drains), or kill."""
    yield
    while _STARTED:
        proc = _STARTED.pop()
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.communicate(timeout=seconds(60))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()


def start(
    out: Path, *extra: str, env: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "harness.run.cli",
            "run",
            *RUN,
            "--out",
            str(out),
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **SECRETS, **(env or {})},
    )
    _STARTED.append(proc)
    return proc


def wait_for_frames(out: Path, proc: subprocess.Popen[str]) -> None:
    """Until the receiver has flushed frames (the load is flowing)."""
    deadline = time.monotonic() + seconds(60)
    while not list((out / "records" / "frames").glob("receiver-0-*.parquet")):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "no frames recorded"
        time.sleep(0.1)


def finish(proc: subprocess.Popen[str]) -> tuple[str, str]:
    stdout, stderr = proc.communicate(timeout=seconds(120))
    assert "Traceback" not in stdout + stderr, stderr[-3000:]
    return stdout, stderr


def judged_by_platform(summary: dict[str, Any]) -> list[str]:
    """Failed gates other than conformance: none may fail on lost records."""
    return [
        g["message"]
        for g in summary["thresholds"]
        if g["result"] == "fail" and g["name"] not in ("conformance", "coverage")
    ]


def test_a_disk_full_for_seconds_makes_the_run_incomplete_not_the_platforms_loss(
    small_disk: Path,
) -> None:
    out = small_disk / "run"
    proc = start(out)
    wait_for_frames(out, proc)
    ballast = fill(small_disk)
    time.sleep(2.5)  # a flush or two fail; the watch probes every 2 s
    ballast.unlink()
    _, stderr = finish(proc)
    assert proc.returncode == 3, stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["verdict"] == "incomplete"
    assert judged_by_platform(summary) == []
    assert any(g["result"] == "void" for g in summary["thresholds"])
    health = summary["record_health"]
    names = {p["producer"] for p in health["producers"]}
    assert "run directory" in names  # the watch saw it
    lost = [p for p in health["producers"] if p["rows_failed"]]
    assert lost, health  # and some producer counted the rows it lost
    assert all(p["from_s"] is not None for p in lost)
    assert "records incomplete" in stderr
    report = (out / "report.md").read_text()
    assert report.startswith("# streamload report: INCOMPLETE")
    assert "not the platform's" in report


def test_a_disk_that_stays_full_still_gets_a_report_elsewhere_and_says_where(
    small_disk: Path, tmp_path: Path
) -> None:
    out = small_disk / "run"
    elsewhere = tmp_path / "tmp"
    elsewhere.mkdir()
    proc = start(out, env={"TMPDIR": str(elsewhere)})
    wait_for_frames(out, proc)
    fill(small_disk)
    stdout, stderr = finish(proc)
    assert proc.returncode == 3, stderr[-3000:]
    moved = elsewhere / "streamload-run"
    assert f"{out} is full" in stderr and str(moved) in stderr + stdout
    summary = json.loads((moved / "summary.json").read_text())
    assert json.loads((moved / "run.json").read_text())["record_faults"]
    assert summary["verdict"] == "incomplete"
    assert judged_by_platform(summary) == []
    assert (
        (moved / "report.md").read_text().startswith("# streamload report: INCOMPLETE")
    )


def _pid_of(producer: str, out: Path) -> int:
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if (
            b"receivers" in argv
            and producer.encode() in argv
            and str(out).encode() in argv
        ):
            return int(proc.name)
    raise AssertionError(f"no process of {producer}")


def test_a_killed_receiver_is_the_harness_failing_not_the_platform(
    tmp_path: Path,
) -> None:
    out = tmp_path / "run"
    proc = start(out)
    wait_for_frames(out, proc)
    os.kill(_pid_of("receiver-0", out), signal.SIGKILL)
    _, stderr = finish(proc)
    assert proc.returncode == 3, stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["verdict"] == "incomplete"
    assert judged_by_platform(summary) == []
    (dead,) = [
        p
        for p in summary["record_health"]["producers"]
        if p["producer"] == "receiver-0"
    ]
    assert any("code -9" in what for what in dead["problems"])
    headline = (out / "report.md").read_text().split("\n")[:6]
    assert headline[0] == "# streamload report: INCOMPLETE"
    assert any(
        "receiver-0" in line and "not the platform's" in line for line in headline
    )
    assert "void" in summary["accounting"]


def test_a_writer_held_to_a_tiny_backlog_drops_frames_counted_exactly(
    tmp_path: Path,
) -> None:
    out = tmp_path / "run"
    proc = start(out, env={"STREAMLOAD_RECORD_BACKLOG_ROWS": "20"})
    _, stderr = finish(proc)
    assert proc.returncode == 3, stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["verdict"] == "incomplete"
    assert judged_by_platform(summary) == []
    manifest = json.loads((out / "producers" / "receiver-0.json").read_text())
    dropped = manifest["rows_dropped"]["frames"]
    assert dropped > 0 and manifest["rows_failed"] == {}
    # exact: every frame the receiver counted is either recorded or dropped
    mine = sorted((out / "records" / "frames").glob("receiver-0-*.parquet"))
    recorded = sum(pq.read_metadata(p).num_rows for p in mine)
    streams = sorted((out / "records" / "streams").glob("receiver-0-*.parquet"))
    counted = sum(
        sum(pq.read_table(p, columns=["frames"])["frames"].to_pylist()) for p in streams
    )
    assert recorded + dropped == counted
    (item,) = [
        p
        for p in summary["record_health"]["producers"]
        if p["producer"] == "receiver-0"
    ]
    assert item["rows_dropped"] == dropped and item["from_s"] is not None
