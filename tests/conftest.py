"""Session fixtures shared by every test package."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from harness.tls import TlsFiles, make_tls


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
