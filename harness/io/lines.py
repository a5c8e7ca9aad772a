"""Write the ``ready`` and ``stats`` lines (:mod:`harness.core.lines`) on stdout.

Flushed at once, since the parent waits on them; a parent that has gone away
(a closed pipe) is not the service's failure: its records still get written.
"""

from __future__ import annotations

import contextlib

from harness.core.lines import encode


__all__ = ["emit"]


def emit(event: str, **fields: object) -> None:
    """One JSON line on stdout, flushed."""
    line = encode(event, fields)
    with contextlib.suppress(BrokenPipeError, ValueError):
        print(line, flush=True)
