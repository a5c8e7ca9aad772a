"""The ``transport`` fixture: receiver tests of transport behaviour run on each library."""

from __future__ import annotations

import pytest

from receivers.server import TRANSPORTS


@pytest.fixture(params=TRANSPORTS)
def transport(request: pytest.FixtureRequest) -> str:
    """``--transport``: each of :data:`receivers.server.TRANSPORTS` in turn."""
    value: str = request.param
    return value
