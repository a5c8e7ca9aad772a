"""receivers.transport_websockets: what only the websockets transport decides.

Its behaviour towards peers is tested with picows' in test_server.py and
test_connection.py (both parametrized over the transports).
"""

from __future__ import annotations

from websockets.exceptions import ConnectionClosed
from websockets.frames import Close

from receivers.transport_websockets import close_code


def test_close_code_prefers_the_peers_then_ours_then_1006() -> None:
    assert close_code(ConnectionClosed(Close(1000, ""), Close(1001, ""), True)) == 1000
    assert close_code(ConnectionClosed(None, Close(1009, ""))) == 1009
    assert close_code(ConnectionClosed(None, None)) == 1006
