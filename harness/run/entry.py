"""The ``streamload`` console script: Ctrl-C while the CLI loads ends quietly.

Importing the CLI takes ~0.35 s here (profiles, targets, the runner), and the
script's own ``from harness.run.cli import main`` runs before any handler of
ours, so a Ctrl-C in that window printed a ``KeyboardInterrupt`` traceback.
This module imports nothing heavy, loads the CLI inside the handler, and
exits as an interrupt before the run started does: the word, code 130
(:data:`harness.core.exits.EXIT_INTERRUPTED`).
"""

from __future__ import annotations

import sys

from harness.core.exits import EXIT_INTERRUPTED


__all__ = ["main"]


def main() -> int:
    """Load the CLI and run it (:func:`harness.run.cli.main`)."""
    try:
        from harness.run.cli import main as cli
    except KeyboardInterrupt:
        print("streamload: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    return cli()
