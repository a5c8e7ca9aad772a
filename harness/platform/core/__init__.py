"""The reference platform's sans-I/O parts: defect switches, dialects, seeded
faults and network impairments, playback, the registry of calls and
streams. Same rule as :mod:`harness.core` (no sockets, files, clocks,
processes, threads or event loops); imports ``harness.core`` and
``harness.platform.core`` only.
"""

from __future__ import annotations


__all__: list[str] = []
