"""CLI argument and profile handling in-process (whole runs are tested in tests/e2e)."""

from __future__ import annotations

import importlib.metadata
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
        (["--duration", "soon"], "--duration: 'soon' is not a duration"),
        (["--users", "many"], "--users: 'many' is not a whole number"),
        (["--users", "0"], "--users: 0 is out of range; use 1 to 10000"),
        (["--spawn-rate", "-1"], "--spawn-rate: -1 is out of range"),
        (["--codecs", "G722"], "--codecs: 'G722' is not allowed; use PCMU, PCMA"),
        (
            ["--threshold", "jiter_ms.p99=< 5"],
            "--threshold: 'jiter_ms.p99=< 5': 'jiter_ms' is not a metric",
        ),
        (["--profile", "nope"], "nope: cannot read the profile"),
        (["--target", "http://example.com"], "--target: plain http to example.com"),
        (
            ["--receiver-url", "ws://x/s"],
            "--receiver-url: 'ws://x/s' is not a wss:// URL",
        ),
        (["--receiver-listen", "8443"], "--receiver-listen: '8443' is not HOST:PORT"),
    ],
)
def test_bad_values_name_the_flag_before_anything_starts(
    argv, message, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = tmp_path / "r"
    assert main(["run", *argv, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("streamload run: ") and message in err, err
    assert len(err.strip().splitlines()) == 1
    assert not (out / "records").exists()


def test_a_profile_mistake_names_file_line_and_fix(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    profile = tmp_path / "nightly-mine.toml"
    profile.write_text(
        'extends = "nightly"\n\n[thresholds]\n"setup_ms.p99{codec=OPUS}" = "< 5"\n'
    )
    assert main(["run", "--profile", str(profile), "--out", str(tmp_path / "r")]) == 2
    assert capsys.readouterr().err == (
        f'streamload run: {profile}:4: thresholds."setup_ms.p99{{codec=OPUS}}": '
        "'OPUS' is not a codec; use one of PCMU, PCMA, L16, L16@16000h, L16@24000h\n"
    )
    assert not (tmp_path / "r").exists()


def test_a_remote_target_needs_a_public_receiver_url(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SIGNALWIRE_PROJECT_ID", "p")
    monkeypatch.setenv("SIGNALWIRE_API_TOKEN", "PT-do-not-print")
    argv = ["run", "--target", "https://x.signalwire.com", "--out", str(tmp_path / "r")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "--receiver-url: is required with a remote --target" in err
    assert (
        main([*argv, "--profile", "smoke", "--receiver-url", "wss://rx.example/s"]) == 2
    )
    err = capsys.readouterr().err
    assert "--receiver-url-open" in err and "PT-do-not-print" not in err
    assert main([*argv, "--fault", "delay=5ms", "--receiver-url", "wss://r/s"]) == 2
    assert (
        "--fault/--defect: impair the reference platform only"
        in capsys.readouterr().err
    )


def test_an_existing_run_is_never_overwritten(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "records").mkdir()
    assert main(["run", "--out", str(tmp_path)]) == 2
    assert "already holds a run; choose a new directory" in capsys.readouterr().err


def test_check_lists_a_profiles_gates(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "nightly"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("nightly: 10 minutes")
    assert "load: closed model, 50 users, 600s, shape ramp" in out
    assert "gate jitter_ms.p99{codec=PCMU} < 5  (nightly (built-in):" in out
    assert out.splitlines()[-1] == (
        "conformance.require: none (unchecked rules are listed, not gated)"
    )


def test_check_prints_the_coverage_requirement(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["check", "smoke"]) == 0
    assert (
        "conformance.require: all (every rule the matrix and dialect can exercise "
        "must be checked)"
    ) in capsys.readouterr().out


def test_no_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "COMMAND" in capsys.readouterr().err


def test_the_ci_example_calls_real_commands_and_profiles() -> None:
    """Every streamload line of examples/ci parses, and its profiles exist."""
    import shlex

    import yaml

    from harness.cli import _parser
    from harness.profile import load_profile

    path = Path(__file__).parents[2] / "examples" / "ci" / "github-actions.yml"
    doc = yaml.safe_load(path.read_text())
    lines = [
        line.strip()
        for job in doc["jobs"].values()
        for step in job["steps"]
        for line in str(step.get("run", "")).splitlines()
        if line.strip().startswith("streamload ")
    ]
    assert any("--profile smoke" in line for line in lines)
    assert any("--profile nightly" in line for line in lines)
    assert any(line.startswith("streamload compare") for line in lines)
    for line in lines:
        argv = shlex.split(line)[1:]
        ns = _parser().parse_args(argv)
        if ns.command == "run":
            load_profile(ns.profile)


@pytest.mark.parametrize(
    ("command", "module_usage"),
    [
        (["receive", "--help"], "usage: python -m receivers"),
        (["platform", "--help"], "usage: python -m harness.platform"),
        (["report", "--help"], "usage: python -m reports"),
        (["compare", "--help"], "usage: streamload compare"),
    ],
)
def test_serving_commands_hand_every_flag_to_their_module(
    command: list[str], module_usage: str
) -> None:
    """A leading --flag reaches the module (argparse's REMAINDER would drop it)."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "harness.cli", *command],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(module_usage)


def test_a_serving_commands_own_usage_error_comes_from_its_module() -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "harness.cli", "receive", "--port", "70000",
         "--cert-file", "/nonexistent", "--key-file", "/nonexistent", "--run-dir", "/tmp/x"],
        capture_output=True,
        text=True,
        timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.startswith("python -m receivers: --port: 70000 is out of range")


def test_version_is_the_installed_distributions(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as raised:
        main(["--version"])
    assert raised.value.code == 0
    expected = importlib.metadata.version("streamload")
    assert capsys.readouterr().out == f"streamload {expected}\n"
