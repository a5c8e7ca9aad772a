"""``streamload --print-completion SHELL``: shtab's script names every subcommand,
bash accepts it, and completing ``streamload tr`` in a real bash gives ``trend``."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import seconds


SUBCOMMANDS = (
    "run",
    "capacity",
    "conform",
    "check",
    "compare",
    "platform",
    "receive",
    "callbacks",
    "report",
    "trend",
)


def completion(shell: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "harness.run.cli", "--print-completion", shell],
        capture_output=True,
        text=True,
        timeout=seconds(60),
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.fixture(scope="module")
def bash_script(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("completion") / "streamload.bash"
    path.write_text(completion("bash"), encoding="utf-8")
    return path


def test_the_bash_script_names_every_subcommand_and_parses(bash_script: Path) -> None:
    listed = re.search(
        r"^_shtab_streamload_subparsers=\((.*)\)$", bash_script.read_text(), re.M
    )
    assert listed is not None
    assert listed.group(1).split() == list(SUBCOMMANDS)
    bash = shutil.which("bash")
    assert bash is not None
    proc = subprocess.run(
        [bash, "-n", str(bash_script)], capture_output=True, text=True, timeout=30
    )
    assert proc.returncode == 0, proc.stderr


def test_bash_completes_a_subcommand_and_a_flag(bash_script: Path) -> None:
    """The script as bash runs it: ``streamload tr<TAB>`` and ``streamload --ver<TAB>``."""
    probe = (
        f"source {bash_script}\n"
        "for line in 'streamload tr' 'streamload --ver'; do\n"
        '  read -r -a COMP_WORDS <<< "$line"; COMP_CWORD=1; COMP_LINE="$line"\n'
        "  COMP_POINT=${#line}; COMPREPLY=(); _shtab_streamload streamload\n"
        '  echo "${COMPREPLY[*]}"\n'
        "done\n"
    )
    proc = subprocess.run(
        ["bash", "-c", probe], capture_output=True, text=True, timeout=30
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split("\n")[:2] == ["trend", "--version"]


@pytest.mark.parametrize("shell", ["zsh", "tcsh"])
def test_zsh_and_tcsh_scripts_name_the_subcommands(shell: str) -> None:
    text = completion(shell)
    assert "streamload" in text and "trend" in text and "compare" in text
