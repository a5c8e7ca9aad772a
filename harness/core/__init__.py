"""The sans-I/O core: the protocol, its rules and the records, as plain code.

The rule of every folder named ``core``: no sockets, no files, no clock
reads, no processes, threads or event loops. Time is an argument, bytes come
in and rows go out through the ``RowSink`` seam. A module here imports only
``harness.core`` modules, the standard library's pure parts and pure
libraries (msgspec, numpy). ``tests/test_layout.py`` checks every module
under every ``core/`` folder (imports and calls, by AST).
"""

from __future__ import annotations


__all__: list[str] = []
