"""CLI argument and profile handling in-process (whole runs are tested in tests/e2e)."""

from __future__ import annotations

import importlib.metadata
import socket
from pathlib import Path

import pytest

from harness.run.cli import main
from tests.conftest import REPO


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
        (
            ["--tag", "branch"],
            "--tag 'branch': has no '='; write --tag key=value",
        ),
        (
            ["--tag", "a=1", "--tag", "a=2"],
            "--tag 'a=2': repeats the key 'a'; give each key once",
        ),
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


@pytest.fixture
def remote_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """A remote target's credentials; the token must never reach the output."""
    monkeypatch.setenv("SIGNALWIRE_PROJECT_ID", "p")
    monkeypatch.setenv("SIGNALWIRE_API_TOKEN", "PT-do-not-print")


@pytest.mark.usefixtures("remote_credentials")
def test_a_remote_target_needs_a_public_receiver_url(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
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

    from harness.io.profile_file import load_profile
    from harness.run.cli import _parser

    path = REPO / "examples" / "ci" / "github-actions.yml"
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


def test_the_ci_examples_publish_junit_and_the_summary() -> None:
    """GitHub: junit.xml as a check, report.md as the job summary; GitLab: junit
    as the test report, the report as artifacts; both tag the run, and every
    streamload line parses."""
    import shlex

    import yaml

    from harness.run.cli import _parser

    github = yaml.safe_load((REPO / "examples/ci/github-actions.yml").read_text())
    for job in github["jobs"].values():
        steps = job["steps"]
        junit = [s for s in steps if "action-junit-report" in str(s.get("uses"))]
        assert junit and junit[0]["with"]["report_paths"].endswith("junit.xml")
        assert junit[0]["if"] == "always()"
        assert any("GITHUB_STEP_SUMMARY" in str(s.get("run")) for s in steps)
    gitlab = yaml.safe_load((REPO / "examples/ci/gitlab-ci.yml").read_text())
    artifacts = gitlab[".streamload"]["artifacts"]
    assert artifacts["reports"]["junit"] == "runs/ci/junit.xml"
    assert artifacts["when"] == "always"
    assert "runs/ci/report.html" in artifacts["paths"]
    lines = [
        line
        for job in gitlab.values()
        if isinstance(job, dict)
        for line in job.get("script", [])
        if line.startswith("streamload ")
    ]
    assert {f"--profile {p}" for p in ("smoke", "nightly")} <= {
        f"--profile {ns.profile}"
        for ns in (_parser().parse_args(shlex.split(x)[1:]) for x in lines)
    }
    for line in lines:
        ns = _parser().parse_args(shlex.split(line)[1:])
        assert ns.out == "runs/ci" and len(ns.tag) == 3


@pytest.mark.parametrize(
    ("command", "module_usage"),
    [
        (["receive", "--help"], "usage: streamload receive"),
        (["platform", "--help"], "usage: streamload platform"),
        (["report", "--help"], "usage: streamload report"),
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
        [sys.executable, "-m", "harness.run.cli", *command],
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
        [sys.executable, "-m", "harness.run.cli", "receive", "--port", "70000",
         "--cert-file", "/nonexistent", "--key-file", "/nonexistent", "--run-dir", "/tmp/x"],
        capture_output=True,
        text=True,
        timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.startswith("streamload receive: --port: 70000 is out of range")


def test_version_is_the_installed_distributions(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as raised:
        main(["--version"])
    assert raised.value.code == 0
    expected = importlib.metadata.version("streamload")
    assert capsys.readouterr().out == f"streamload {expected}\n"


REMOTE = [
    "--target", "https://space.example.com", "--profile", "smoke", "--bearer-token", "on",
    "--status-callback", "off", "--negative", "off",
]  # fmt: skip
PUBLIC = ["--receiver-url", "wss://rx.example.com/stream"]


@pytest.mark.usefixtures("remote_credentials")
def test_two_flags_on_one_port_are_named_even_when_another_process_holds_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        listen = f"127.0.0.1:{port}"
        argv = ["--receiver-listen", listen, "--receiver-open-listen", listen]
        assert main(["run", *argv, "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert f"--receiver-open-listen: port {port} is also --receiver-listen's" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            [*REMOTE, "--receiver-url", "wss://127.0.0.1:8443/stream"],
            "--receiver-url: 'wss://127.0.0.1:8443/stream' is loopback, which a "
            "remote platform cannot reach",
        ),
        (
            [*REMOTE, *PUBLIC, "--status-callback", "on"],
            "--callback-url: the matrix asks for status callbacks, which a remote "
            "platform cannot deliver",
        ),
        (
            [*REMOTE, *PUBLIC, "--status-callback", "on", "--callback-url",
             "http://cb.example.com/c"],
            "--callback-url: 'http://cb.example.com/c' is not a https:// URL",
        ),
        (
            [*REMOTE, *PUBLIC, "--status-callback", "on", "--callback-url",
             "https://localhost/c"],
            "--callback-url: 'https://localhost/c' is loopback",
        ),
        (
            [*REMOTE, *PUBLIC, "--bearer-token", "on,off"],
            "--receiver-url-open: the matrix sends streams without a bearer token",
        ),
        (
            [*REMOTE, *PUBLIC, "--services-tls", "off", "--receiver-listen", "0.0.0.0:0"],
            "--services-tls: off on 0.0.0.0 would carry",
        ),
        (
            [*REMOTE, *PUBLIC, "--bearer-token", "on,off", "--receiver-url-open",
             "wss://open.example.com/stream", "--receiver-listen", "0.0.0.0:0"],
            "--receiver-open-listen: the receivers listen on 0.0.0.0",
        ),
        (
            ["--services-tls", "off"],
            "--services-tls: off serves plain ws, which the platform must not dial",
        ),
        (
            [*REMOTE, *PUBLIC, "--callback-listen", "127.0.0.1:0"],
            "--callback-listen: is given without --callback-url",
        ),
        (
            [*REMOTE, *PUBLIC, "--callback-cert", "/nonexistent"],
            "--callback-cert: '/nonexistent' is not a file",
        ),
        (
            ["--receiver-open-listen", "nope"],
            "--receiver-open-listen: 'nope' is not HOST:PORT",
        ),
        (
            ["--receiver-listen", "127.0.0.1:18443", "--receiver-open-listen",
             "127.0.0.1:18443"],
            "--receiver-open-listen: port 18443 is also --receiver-listen's",
        ),
    ],
)  # fmt: skip
@pytest.mark.usefixtures("remote_credentials")
def test_remote_run_preflight_exits_2_before_the_first_request(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = tmp_path / "r"
    assert main(["run", *argv, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("streamload run: ") and message in err, err
    assert "PT-do-not-print" not in err
    assert not out.exists()  # no run.json, no records: nothing was sent


def test_a_listen_address_in_use_fails_before_anything_starts(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        argv = ["run", "--callback-listen", f"127.0.0.1:{port}", "--callback-url",
                "https://cb.example.com/c", "--out", str(tmp_path / "r")]  # fmt: skip
        assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"--callback-listen: cannot listen on 127.0.0.1:{port}" in err
    assert not (tmp_path / "r").exists()


def test_check_with_a_target_prints_what_a_run_would_start_and_the_caps(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["check", "smoke", "--target", "https://space.example.com"]
    assert main([*argv, "--max-streams", "5"]) == 0
    out = capsys.readouterr().out.splitlines()
    tail = out[out.index("target: https://space.example.com") :]
    # smoke: 4 users, 6 s, hold 0.5-1.5 s (mean 1), wait 0-0.1 s (mean 0.05)
    assert tail[1] == (
        "would start: about 23 streams (4 users x 6 s / (hold 1 s + wait 0.05 s))"
    )
    assert tail[2] == "stream minutes: about 0.4 (mean hold 1 s)"
    assert tail[3].startswith("start requests: about 3.81/s, as many stops")
    assert tail[4] == (
        "caps: max_streams 5; new starts would stop after about 1 s by max_streams"
    )
    assert main(argv) == 0
    assert "caps: none (a real platform bills by the stream minute" in (
        capsys.readouterr().out
    )


def test_platform_records_needs_a_target_and_a_directory(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SIGNALWIRE_PROJECT_ID", "AC1")
    monkeypatch.setenv("SIGNALWIRE_API_TOKEN", "not-a-real-token")
    out = tmp_path / "run"
    assert main(["run", "--platform-records", str(tmp_path), "--out", str(out)]) == 2
    assert "--platform-records: is for a --target platform" in capsys.readouterr().err
    missing = str(tmp_path / "nope")
    code = main(
        ["run", "--target", "http://127.0.0.1:9", "--platform-records", missing,
         "--out", str(out)]
    )  # fmt: skip
    assert code == 2
    assert f"--platform-records: {missing!r} is not a directory" in (
        capsys.readouterr().err
    )
