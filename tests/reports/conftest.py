"""Run directories shared by the report tests (built once per session)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.core.rules import Checker
from reports.load import load_run
from reports.summary import Report, build_report
from tests.reports.helpers import DEFAULT_THRESHOLDS, MS, T0, RunBuilder


EVIL = '<script>alert("x")</script> | a\nb & http://example.invalid/x.js'
"""Evidence text a hostile peer could send: it must come out inert in every format."""


def build_passing(root: Path) -> Path:
    """Two clean PCMU streams and one L16 stream, every rule checked and passing."""
    build = RunBuilder(root)
    build.good_stream("MZ1", "req-1")
    build.good_stream("MZ2", "req-2")
    build.good_stream("MZ3", "req-3", codec="L16")
    for sid in ("MZ1", "MZ2", "MZ3"):
        checker = Checker(sid)
        checker.check("WS-SEQ-001", True)
        checker.note("WS-START-004", "absent")
        build.checker(checker)
    return build.write()


def build_failing(root: Path) -> Path:
    """Loss, a stream that never arrived, a failed rule with hostile evidence."""
    build = RunBuilder(root)
    build.good_stream("MZ1", "req-1")
    build.request("req-2", stream_sid="MZ2", codec="PCMA")
    build.platform_stream("MZ2", "req-2", codec="PCMA", frames_sent=100)
    build.stream("MZ2", "req-2", codec="PCMA")
    build.media("MZ2", chunks=100, missing=range(10, 20), latency_ns=80 * MS)
    build.request("req-3", stream_sid="MZ3")
    build.request(
        "stop-2", kind="stop", stream_sid="MZ2", sent_ns=T0 + 4_990 * MS,
        done_ns=T0 + 4_995 * MS,
    )  # fmt: skip
    checker = Checker("MZ2")
    checker.check("WS-MEDIA-003", False, expected="160 bytes", actual=EVIL, seq=7)
    checker.check("WS-MEDIA-005", False, expected="<= 60 ms", actual="90 ms", seq=9)
    checker.note("WS-START-004", "present")
    build.checker(checker)
    return build.write()


@pytest.fixture(scope="session")
def passing_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_passing(tmp_path_factory.mktemp("passing"))


@pytest.fixture(scope="session")
def failing_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_failing(tmp_path_factory.mktemp("failing"))


@pytest.fixture(scope="session")
def passing_report(passing_dir: Path) -> Report:
    return build_report(load_run(passing_dir), DEFAULT_THRESHOLDS)


@pytest.fixture(scope="session")
def failing_report(failing_dir: Path) -> Report:
    return build_report(load_run(failing_dir), DEFAULT_THRESHOLDS)
