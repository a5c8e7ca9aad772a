"""Session fixtures shared by every test package."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from harness.io.tls import TlsFiles, make_tls


REPO = Path(__file__).resolve().parent.parent
"""The clone's own root (never anything beside it)."""

DATA = Path(__file__).resolve().parent / "data"
"""The vendors' texts the tests validate real traffic against (OpenAPI excerpt,
verbatim message examples), copied into the repo with their sources in
``tests/data/README.md``; the product never reads them."""


def data_file(relative: str) -> Path:
    """A file under :data:`DATA`, or a clear failure naming where it was expected."""
    path = DATA / relative
    if not path.is_file():
        pytest.fail(f"{path} is missing from the clone; see tests/data/README.md")
    return path


TIMEOUT_FACTOR = float(os.environ.get("STREAMLOAD_TESTS_TIMEOUT_FACTOR", "1"))
"""Scale every wait on slow or noisy machines (websockets' MS habit)."""


def seconds(value: float) -> float:
    """A test wait, scaled by ``STREAMLOAD_TESTS_TIMEOUT_FACTOR``."""
    return value * TIMEOUT_FACTOR


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    """One throwaway CA and loopback server certificate for the whole session."""
    return make_tls(Path(tmp_path_factory.mktemp("tls")))


SERIAL: tuple[str, ...] = (
    "tests/benchmarks/",
    "tests/e2e/test_accuracy.py",
    "tests/e2e/test_clocks.py",
    "tests/e2e/test_faults_hostile.py::test_hostile_peers_cost_a_good_stream_nothing",
    "tests/e2e/test_jitter_hold.py",
    "tests/scenarios/test_shapes.py",
    "tests/scenarios/test_users.py",
)
"""Tests that judge timing (latency, pacing, schedules), by path or node id:
``scripts/test`` runs them alone after the rest, which runs in parallel
(pytest-xdist), so no other test's load reaches their figures."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark :data:`SERIAL` tests ``serial`` by path, in one place."""
    for item in items:
        path = Path(str(item.fspath)).resolve()
        rel = path.relative_to(REPO).as_posix() if path.is_relative_to(REPO) else ""
        if f"{rel}::{item.name}".startswith(SERIAL):
            item.add_marker(pytest.mark.serial)
