"""harness.core.exits: one table of exit codes, the same in the README and in --help."""

from __future__ import annotations

import re

import pytest

from harness.core.exits import (
    EXIT_FAIL,
    EXIT_HARNESS,
    EXIT_INTERRUPTED,
    EXIT_PASS,
    EXIT_USAGE,
    MEANINGS,
    help_text,
)
from harness.run import cli
from tests.conftest import REPO


def _readme_table() -> dict[int, str]:
    """The rows of the README's exit-code table: ``| code | meaning |``."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    head = text.index("| code | meaning |")
    rows: dict[int, str] = {}
    for line in text[head:].splitlines()[2:]:
        m = re.fullmatch(r"\| (\d+) \| (.+) \|", line)
        if m is None:
            break
        rows[int(m.group(1))] = m.group(2)
    return rows


def test_the_readme_table_lists_exactly_these_codes() -> None:
    assert _readme_table() == dict(MEANINGS)


def test_the_codes_are_the_documented_numbers() -> None:
    assert (EXIT_PASS, EXIT_FAIL, EXIT_USAGE, EXIT_HARNESS, EXIT_INTERRUPTED) == (
        0,
        1,
        2,
        3,
        130,
    )
    assert list(MEANINGS) == [0, 1, 2, 3, 130]


def test_streamload_help_lists_them(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["--help"])
    assert exc.value.code == EXIT_PASS
    out = " ".join(capsys.readouterr().out.split())  # argparse wraps the epilog
    assert help_text() in out
    for code, meaning in MEANINGS.items():
        assert f"{code} {meaning}" in out
