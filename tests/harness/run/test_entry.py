"""The console script's entry: a Ctrl-C while the CLI loads ends quietly (code 130)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from harness.core.exits import EXIT_INTERRUPTED


_CHILD = """
import importlib.abc, os, signal, sys

# as in a terminal: a shell that runs this suite in the background ignores
# SIGINT for its children, and Python then keeps it ignored
signal.signal(signal.SIGINT, signal.default_int_handler)

class CtrlC(importlib.abc.MetaPathFinder):
    # a real SIGINT, delivered just as the CLI's module starts loading
    def find_spec(self, name, path, target=None):
        if name == "harness.run.cli":
            os.kill(os.getpid(), signal.SIGINT)
        return None

sys.meta_path.insert(0, CtrlC())
{entry}
sys.exit(main())
"""


@pytest.mark.parametrize(
    ("entry", "quiet"),
    [
        ("from harness.run.entry import main", True),
        # the console script as it was: the same signal gave a traceback
        ("from harness.run.cli import main", False),
    ],
)
def test_ctrl_c_while_the_cli_loads(entry: str, quiet: bool) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _CHILD.format(entry=entry), "--version"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if quiet:
        assert done.returncode == EXIT_INTERRUPTED
        assert done.stderr == "streamload: interrupted\n"
    else:
        assert "Traceback" in done.stderr and "KeyboardInterrupt" in done.stderr


def test_the_entry_runs_the_cli() -> None:
    """Without a signal it is the CLI: ``--version`` prints the distribution's."""
    done = subprocess.run(
        [sys.executable, "-c", "import sys; from harness.run.entry import main; sys.exit(main())",
         "--version"],
        capture_output=True,
        text=True,
        timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("streamload ")
