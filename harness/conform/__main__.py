"""``python -m harness.conform``: the negative suite, run once (see :mod:`.suite`)."""

from __future__ import annotations

import sys

from harness.conform.suite import main


if __name__ == "__main__":
    sys.exit(main())
