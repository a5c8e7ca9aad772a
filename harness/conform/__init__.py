"""``python -m harness.conform``: the conformance suite's driver (``suite``).

A shell: it does I/O (HTTPS to the platform under test) and imports
``harness.core`` and ``harness.io`` only.
"""

from __future__ import annotations


__all__: list[str] = []
