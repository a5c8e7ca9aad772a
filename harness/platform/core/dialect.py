"""What differs between the SignalWire and the Twilio flavour of the protocol (contract §2.4, §5.4).

The reference platform speaks SignalWire by default; the Twilio dialect lets
the same receivers and scenarios be checked against Twilio's conventions
(``MZ``/``AC``/``CA`` ids, version ``1.0.0``, a top-level ``streamSid`` and a
``stop`` body). Pure data plus id generation; no I/O.
"""

from __future__ import annotations

import dataclasses
import uuid
from typing import Final, Literal


__all__ = ["DIALECTS", "Dialect", "SidKind"]

SidKind = Literal["account", "conference", "stream", "call"]


@dataclasses.dataclass(frozen=True, slots=True)
class Dialect:
    """One vendor's conventions for ids, paths and WebSocket messages."""

    name: str
    version: str
    """``connected.version``: ``0.2.0`` SignalWire, ``1.0.0`` Twilio (contract §5.4)."""
    uri_prefix: str
    """Prefix of the ``uri`` a response carries (contract §1.2, §2.3)."""
    top_level_stream_sid: bool
    """Twilio repeats ``streamSid`` at the top of start/media/stop (contract §5.4)."""
    stop_body: bool
    """Twilio's ``stop`` carries ``stop.accountSid``/``stop.callSid`` (contract §5.4)."""
    signature_header: str
    """Header carrying the status-callback signature (contract §4)."""
    sid_prefixes: dict[SidKind, str] | None = None
    """``None`` for uuids (SignalWire); else a two-letter prefix + 32 hex (Twilio)."""

    def new_sid(self, kind: SidKind) -> str:
        """Return a fresh random id of ``kind`` in this dialect's format."""
        if self.sid_prefixes is None:
            return str(uuid.uuid4())
        return self.sid_prefixes[kind] + uuid.uuid4().hex


DIALECTS: Final[dict[str, Dialect]] = {
    "signalwire": Dialect(
        name="signalwire",
        version="0.2.0",
        uri_prefix="/api/laml/2010-04-01",
        top_level_stream_sid=False,
        stop_body=False,
        signature_header="X-SignalWire-Signature",
    ),
    "twilio": Dialect(
        name="twilio",
        version="1.0.0",
        uri_prefix="/2010-04-01",
        top_level_stream_sid=True,
        stop_body=True,
        signature_header="X-Twilio-Signature",
        sid_prefixes={
            "account": "AC",
            "conference": "CF",
            "stream": "MZ",
            "call": "CA",
        },
    ),
}
"""The dialects ``--dialect`` accepts, by name."""
