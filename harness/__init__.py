"""streamload's harness, one rule read from the folder names.

**A folder named ``core`` is sans-I/O; everything else may do I/O.** Imports
point inward: ``core`` imports only ``core``; ``io`` imports ``core``; the
shells import ``core`` and ``io``, never another shell.

- ``core/``: the protocol and its checks as plain code (messages, session and
  transitions, sender, rules, api, callbacks, records, codecs, metrics,
  correlation, profiles...). No sockets, files, clocks, processes or threads.
- ``io/``: the I/O edges every shell shares: record files, TLS files,
  interpreter settings, service flags, discovery, profile files.
- ``run/``: the ``streamload`` CLI and one run (starts the other shells as
  processes, imports none of them).
- ``conform/``: ``python -m harness.conform``, the conformance-suite driver.
- ``platform/``: the reference platform (asyncio); its pure parts in
  ``platform/core/``.

The other shells live beside this package: ``receivers``, ``reports`` and
``scenarios``. ``tests/test_layout.py`` enforces the rule; ``docs/architecture.md``
draws the picture.
"""

from __future__ import annotations


__all__: list[str] = []
