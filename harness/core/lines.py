"""The JSON lines a service prints on stdout: one ``ready``, then ``stats``.

Every process the harness starts (receivers, the callback sink, the reference
platform and its workers, the live judge) tells its parent that it listens,
and how it is doing, the same way: one compact JSON object a line, its kind
in ``event``. The writers (:mod:`harness.io.lines`) and the readers (the CLI's
:mod:`harness.run.processes`, the receivers' and platform's supervisors) share this
one definition, so a field cannot be spelt two ways.

Pure: text in, text out.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

import msgspec


__all__ = ["EVENT", "READY", "STATS", "decode", "encode", "ready_fields"]

EVENT: Final = "event"
"""The key naming a line's kind."""
READY: Final = "ready"
"""Printed once, when the service listens: what to dial and where it writes."""
STATS: Final = "stats"
"""Printed every stats interval and once on exit: counters, the latest figures."""


_ENCODER: Final = msgspec.json.Encoder()
_DECODER: Final = msgspec.json.Decoder()


def encode(event: str, fields: Mapping[str, object]) -> str:
    """One line (no newline): ``{"event":EVENT,...fields}``, compact.

    msgspec writes it: a receiver prints its live histograms on its event loop
    every second, and at 500 streams of five codecs and two tracks, widely
    spread, that line is ~200 KB: ~1 ms with msgspec against 5-14 ms with the
    standard library (``scripts/bench_live.py``; docs/performance.md §5), a
    stall the frames arriving meanwhile would carry as latency. Where the two
    would write different documents, the standard library writes the line:
    msgspec writes non-ASCII text as UTF-8 (``json`` escapes it, so a line stays
    ASCII whatever stdout's encoding is) and NaN and infinities as ``null``
    (``json`` as ``NaN``/``Infinity``, which :func:`decode` reads back); it
    refuses keys ``json`` would convert (``None``, booleans) and objects it does
    not know. A line with none of these is the same document either way
    (``tests/harness/core/test_lines.py``).
    """
    doc = {EVENT: event, **fields}
    try:
        data = _ENCODER.encode(doc)
    except (TypeError, ValueError, OverflowError):
        data = b"null"  # the standard library's turn
    if data.isascii() and b"null" not in data:  # (None, NaN, or the word in text)
        return data.decode("ascii")
    return json.dumps(doc, separators=(",", ":"))


def decode(raw: bytes | str) -> dict[str, Any] | None:
    """The object on one line, or ``None`` for anything that is not a JSON object.

    A service may print other text (a library's warning); the reader skips it.
    msgspec reads it (the CLI reads every receiver's live line); what msgspec
    refuses, the standard library tries: ``NaN``, ``Infinity`` and numbers
    past a float's range, which :func:`encode` may write.
    """
    try:
        doc = _DECODER.decode(raw)
    except msgspec.DecodeError:
        try:
            doc = json.loads(raw)
        except ValueError:  # also UnicodeDecodeError
            return None
    return doc if isinstance(doc, dict) else None


def ready_fields(
    local_url: str, public_url: str, listen: str, ca_file: Path | None
) -> dict[str, object]:
    """The fields every listening service's ``ready`` line starts with.

    ``url`` is what the platform must dial (``public_url``, else the local
    one), ``listen`` (``HOST:PORT``) and ``local_url`` where the process
    listens, ``ca_file`` the throwaway CA a client must trust (``None``: a
    public certificate).
    """
    return {
        "url": public_url or local_url,
        "listen": listen,
        "local_url": local_url,
        "ca_file": str(ca_file) if ca_file is not None else None,
    }
