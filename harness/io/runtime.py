"""Interpreter settings for a process whose event loop stamps or paces media.

The receivers stamp every frame's arrival and the reference platform sends on
a 1 ms schedule; in both, anything that holds the loop lands in the very times
being measured. Two interpreter defaults do, at media rates:

* The garbage collector. With its default thresholds (700 allocations) a
  receiver at 50,000 messages/s ran 70 collections a second, full passes of
  up to 171 ms over a backlog of queued messages, and peaked at 611 MB. Large
  thresholds, (50,000, 20, 100), ran few passes but long ones: a young pass
  walks every object allocated since the last that is still alive, and while
  streams connect (a connection keeps a few hundred objects for as long as it
  lasts) nearly all of them are, so each young pass walked up to 50,000 and
  each middle pass up to a million (138 ms of CPU, 1,000 streams with churn:
  ``scripts/bench_tails.py``; a 144 ms pass in a receiver's ``health`` rows as
  300 streams connected). Now young passes come every 2,000 net allocations
  (at most 2,000 objects, ~0.2 ms), middle ones every 10 of those (at most
  20,000, ~1 ms), and full ones as rarely as before (every 100 M allocations,
  and only once the long-lived objects grew by a quarter): the longest pause
  fell from 138 ms to 1.2 ms and the collector's total CPU by half
  (docs/performance.md "Tails"). The wire structs are untracked
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

GC_THRESHOLDS: Final = (2_000, 10, 5_000)
"""Young passes every 2,000 net allocations, middle ones every 20,000, full ones
every 100 M: each pass short, full passes as rare as with (50,000, 20, 100)."""
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
