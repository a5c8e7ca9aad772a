"""Interpreter settings for a process whose event loop stamps or paces media.

The receivers stamp every frame's arrival and the reference platform sends on
a 1 ms schedule; in both, anything that holds the loop lands in the very times
being measured. Two interpreter defaults do, at media rates:

* The garbage collector. With its default thresholds (700 allocations) a
  receiver at 50,000 messages/s ran 70 collections a second, full passes of
  up to 171 ms over a backlog of queued messages, and peaked at 611 MB; with
  young collections every 50,000 allocations it ran 2 in two minutes (the
  longest 39 ms) and stayed under 300 MB (this VM, 500 both-track streams,
  ``scripts/bench_receiver.py --tracks 2``). The wire structs are untracked
  (:mod:`harness.core.messages`), so few objects reach the collector at all, and
  what exists before traffic is frozen out of its scans (docs/performance.md §3:
  12-19 ms full passes over ~70k objects).
* The GIL switch interval. A record-writer thread holds the GIL in bursts and
  Python hands it back to a waiting loop only every 5 ms by default, which
  showed as 5-6 ms of loop lag; 0.5 ms keeps it inside a 2 ms pacing budget.
"""

from __future__ import annotations

import gc
import sys
from typing import Final


__all__ = ["GC_THRESHOLDS", "SWITCH_INTERVAL_S", "settle"]

GC_THRESHOLDS: Final = (50_000, 20, 100)
"""Young collections every 50,000 net allocations; older generations rarely."""
SWITCH_INTERVAL_S: Final = 0.0005


def settle() -> None:
    """Apply the settings; call once everything long-lived exists, before traffic.

    Collects and freezes what is alive now (modules, the app, pyarrow), so
    later passes scan only what traffic creates.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    sys.setswitchinterval(SWITCH_INTERVAL_S)
