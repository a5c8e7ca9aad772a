"""The receivers' WebSocket transports: which libraries can frame the bytes.

A concept of its own because both sides name it: the receiver picks its
transport (``streamload receive --transport``) and a run passes the choice to
the receivers it starts (``streamload run --receiver-transport``), and the
run's CLI must not import the receivers to know the names.
"""

from __future__ import annotations

from typing import Final


__all__ = ["DEFAULT_TRANSPORT", "TRANSPORTS"]

TRANSPORTS: Final = ("picows", "websockets")
"""``--transport`` values: the WebSocket library that frames the bytes."""
DEFAULT_TRANSPORT: Final = "picows"
"""picows with aiofastnet: the same checks at about twice the streams per core
of websockets (docs/performance.md, the receiver section)."""
