"""Session fixtures shared by every test package."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from harness.tls import TlsFiles, make_tls


SHARED = Path(
    os.environ.get("STREAMLOAD_SHARED", Path(__file__).resolve().parents[2] / "shared")
)
"""The team's shared folder beside the clone (docs, OpenAPI excerpt, message examples).

Tests read the vendors' specs from it to validate real traffic; the product never
does. CI always has it, so a missing folder fails loudly instead of skipping.
"""


def shared_file(relative: str) -> Path:
    """A file under :data:`SHARED`, or a clear failure naming where it was expected."""
    path = SHARED / relative
    if not path.is_file():
        pytest.fail(
            f"{path} is missing; put the shared folder beside the clone "
            "or set STREAMLOAD_SHARED"
        )
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
