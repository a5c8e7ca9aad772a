"""Where each section of the contract comes from: the vendors' public pages.

Rules, defects and code cite sections of ``docs/contract.md`` (``"§5.2"``);
this table turns a citation into the public page it rests on, so a report
links every rule to documentation its reader can open, and nothing points
at a file the reader does not have.
"""

from __future__ import annotations

import re
from typing import Final


__all__ = ["CONTRACT", "PAGES", "SECTIONS", "Page", "pages_of", "sections_of"]

CONTRACT: Final = "docs/contract.md"
"""The repository's own page that explains each section in words."""

Page = tuple[str, str]
"""A public page: its title and its URL."""

PAGES: Final[dict[str, Page]] = {
    "SW-REST": (
        "SignalWire: Create a Conference Stream",
        "https://signalwire.com/docs/compatibility-api/rest/conference-streams/"
        "create-conference-stream",
    ),
    "SW-REST-STOP": (
        "SignalWire: Update Conference Stream",
        "https://signalwire.com/docs/compatibility-api/rest/conference-streams/"
        "update-conference-stream",
    ),
    "SW-REST-CALL": (
        "SignalWire: Create a Stream (call)",
        "https://signalwire.com/docs/compatibility-api/rest/streams/create-stream",
    ),
    "SW-CXML": (
        "SignalWire: cXML <Stream>",
        "https://signalwire.com/docs/compatibility-api/cxml/reference/voice/stream",
    ),
    "SW-ERRORS": (
        "SignalWire: Compatibility API errors",
        "https://signalwire.com/docs/compatibility-api/reference/errors",
    ),
    "TW-REST": (
        "Twilio: Stream resource",
        "https://www.twilio.com/docs/voice/api/stream-resource",
    ),
    "TW-WS": (
        "Twilio: Media Streams WebSocket messages",
        "https://www.twilio.com/docs/voice/media-streams/websocket-messages",
    ),
    "TW-TWIML": (
        "Twilio: TwiML <Stream>",
        "https://www.twilio.com/docs/voice/twiml/stream",
    ),
}
"""The public pages, by the keys ``docs/contract.md`` uses."""

SECTIONS: Final[dict[str, tuple[str, tuple[str, ...]]]] = {
    "1": ("The endpoint", ("SW-REST",)),
    "1.1": ("Request fields", ("SW-REST",)),
    "1.2": ("The answer", ("SW-REST",)),
    "1.3": ("Refusals", ("SW-REST", "SW-ERRORS")),
    "2": ("Sibling endpoints", ("SW-REST-STOP", "SW-REST-CALL", "TW-REST")),
    "2.1": ("Stop a conference stream", ("SW-REST-STOP", "TW-REST")),
    "2.2": ("Streams on a call", ("SW-REST-CALL",)),
    "2.3": ("Twilio's equivalent", ("TW-REST",)),
    "2.4": ("SignalWire and Twilio side by side", ("SW-REST", "TW-REST")),
    "3": ("The cXML <Stream> verb", ("SW-CXML",)),
    "4": ("Status callback", ("SW-CXML", "TW-TWIML")),
    "5": ("The WebSocket protocol", ("SW-CXML", "TW-WS")),
    "5.1": ("Handshake", ("SW-CXML",)),
    "5.2": ("Messages the platform sends", ("SW-CXML",)),
    "5.3": ("Messages a receiver may send", ("SW-CXML",)),
    "5.4": ("Twilio's messages", ("TW-WS",)),
    "5.5": ("Frame size and pacing", ("SW-CXML",)),
    "6": ("Clients outside this project", ("SW-REST", "TW-REST")),
    "9": ("How the reference platform reads the contract", ()),
    "9.1": (
        "Paths and authentication (the reference platform's reading)",
        ("SW-REST",),
    ),
    "9.2": (
        "Bodies and refusals (the reference platform's reading)",
        ("SW-REST", "SW-ERRORS"),
    ),
    "9.3": ("Stop (the reference platform's reading)", ("SW-REST-STOP", "TW-REST")),
    "9.4": ("The answer, messages and callbacks (its reading)", ("SW-REST", "SW-CXML")),
    "10": ("Where the documentation is unclear", ()),
}
"""Each section of ``docs/contract.md``: its title and the public pages it rests on
(none: the section is the project's own reading, explained on that page)."""

_CITATION: Final = re.compile(r"§\s*(\d+(?:\.\d+)?)")


def sections_of(citation: str) -> list[str]:
    """The section numbers a citation names (``"§1.1, §1.3, §10"`` -> three).

    Raises ``KeyError`` for a section the contract does not have, so a typo in
    a rule's citation fails its test instead of linking nowhere.
    """
    found = _CITATION.findall(citation)
    for number in found:
        if number not in SECTIONS:
            raise KeyError(f"{CONTRACT} has no §{number} (cited as {citation!r})")
    return found


def pages_of(citation: str) -> list[Page]:
    """The public pages behind a citation, each once, in the order cited."""
    seen: dict[str, Page] = {}
    for number in sections_of(citation):
        for key in SECTIONS[number][1]:
            seen.setdefault(key, PAGES[key])
    return list(seen.values())
