"""Which streamload made a run: its version and, from a git checkout, its commit.

Recorded in ``run.json`` when a run starts and shown in the report's header and
``summary.json``, so a result can be traced to the code that measured it. The
commit is that of the tree streamload's own source lives in, never that of the
working directory (a user's project that runs streamload has its own), and
asking git never fails or stalls a run: no git, no checkout, a refused
repository or a slow disk all give ``None``.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import subprocess
from pathlib import Path
from typing import Final


__all__ = ["SOURCE_ROOT", "git_commit", "version"]

SOURCE_ROOT: Final = Path(__file__).resolve().parent.parent.parent
"""The directory holding the ``harness`` package (this file is
``harness/io/provenance.py``): the repository's root when run from a clone;
:func:`git_commit` asks git only about that directory and nothing above it."""
_GIT_TIMEOUT_S: Final = 2.0
_SHA: Final = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


def version() -> str | None:
    """The installed distribution's version, or ``None`` when not installed."""
    try:
        return importlib.metadata.version("streamload")
    except importlib.metadata.PackageNotFoundError:
        return None


def git_commit(root: Path = SOURCE_ROOT) -> str | None:
    """``HEAD``'s commit of the git checkout whose top is ``root``, else ``None``.

    The checkout must be streamload's own: a site-packages inside some other
    repository has a ``HEAD`` too, which says nothing about this code.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    try:
        done = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--show-toplevel", "HEAD"],
            capture_output=True,
            text=True,
            timeout=_GIT_TIMEOUT_S,
            stdin=subprocess.DEVNULL,
            env=env,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    lines = done.stdout.split()
    if done.returncode != 0 or len(lines) != 2 or not _SHA.fullmatch(lines[1]):
        return None
    try:
        same = Path(lines[0]).resolve() == root.resolve()
    except OSError:
        return None
    return lines[1] if same else None
