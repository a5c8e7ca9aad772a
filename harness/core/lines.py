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


__all__ = ["EVENT", "READY", "STATS", "decode", "encode", "ready_fields"]

EVENT: Final = "event"
"""The key naming a line's kind."""
READY: Final = "ready"
"""Printed once, when the service listens: what to dial and where it writes."""
STATS: Final = "stats"
"""Printed every stats interval and once on exit: counters, the latest figures."""


def encode(event: str, fields: Mapping[str, object]) -> str:
    """One line (no newline): ``{"event":EVENT,...fields}``, compact."""
    return json.dumps({EVENT: event, **fields}, separators=(",", ":"))


def decode(raw: bytes | str) -> dict[str, Any] | None:
    """The object on one line, or ``None`` for anything that is not a JSON object.

    A service may print other text (a library's warning); the reader skips it.
    """
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
