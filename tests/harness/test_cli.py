"""CLI argument handling in-process (the whole run is tested in tests/e2e)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.cli import main


def test_unknown_flag_is_one_line_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as raised:
        main(["run", "--nope"])
    assert raised.value.code == 2
    assert capsys.readouterr().err == (
        "streamload: unrecognized arguments: --nope; see 'streamload --help'\n"
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--duration", "soon"], "--duration: 'soon' is not a positive duration"),
        (["--users", "many"], "--users: 'many' is not a whole number above 0"),
        (["--spawn-rate", "-1"], "--spawn-rate: '-1' is not above 0"),
    ],
)
def test_bad_values_name_the_flag(
    argv, message, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main(["run", *argv, "--out", str(tmp_path / "r")]) == 2
    assert message in capsys.readouterr().err


def test_an_existing_run_is_never_overwritten(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "records").mkdir()
    assert main(["run", "--out", str(tmp_path)]) == 2
    assert "already holds a run; choose a new directory" in capsys.readouterr().err


def test_no_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "COMMAND" in capsys.readouterr().err
