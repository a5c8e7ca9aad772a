"""``streamload``: the command line (``cli``) and one run (``runner``), which
starts the other shells as processes (``processes``) by module name and
imports none of them. A shell: imports ``harness.core`` and ``harness.io``.
"""

from __future__ import annotations


__all__: list[str] = []
