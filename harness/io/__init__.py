"""I/O edges shared by every shell: record files and the record writer, TLS
files, interpreter settings, service addresses and run directories,
conference discovery, profile files, the health probe, the ready/stats lines.

Modules here may do I/O; they import ``harness.core`` and ``harness.io``
only, never a shell (``harness.run``, ``harness.conform``,
``harness.platform``, ``receivers``, ``reports``, ``scenarios``).
"""

from __future__ import annotations


__all__: list[str] = []
