"""``python -m harness.conform`` against the real reference platform on loopback."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from harness.conform.suite import Options, main, parse_args, run_suite, summary_lines
from harness.core.errors import ConfigError
from harness.core.records import MemorySink
from harness.core.secret import Secret
from harness.io.tls import TlsFiles
from harness.run.processes import Child
from tests.conftest import seconds


TOKEN = "conform-api-token-Rf6Yd1"


@pytest.fixture(scope="module")
def platforms(
    tmp_path_factory: pytest.TempPathFactory, tls_files: TlsFiles
) -> Iterator[dict[str, tuple[Child, dict[str, Any]]]]:
    """A clean platform, one that takes ws:// URLs (``--defect accept-ws-url``)
    and an idle one (no conference in progress)."""
    root = tmp_path_factory.mktemp("conform")
    children = {}
    for name, extra in (
        ("clean", []),
        ("lenient", ["--defect", "accept-ws-url"]),
        ("idle", ["--conferences", "0"]),
    ):
        children[name] = Child(
            name,
            ["-m", "harness.platform", "--cert-file", str(tls_files.cert_file),
             "--key-file", str(tls_files.key_file), "--ca-file", str(tls_files.ca_file),
             "--run-dir", str(root / name), "--conferences", "1",
             "--stats-interval", "0.1", "--max-duration", "120", *extra],
            log_dir=root / "logs",
            env={"SIGNALWIRE_API_TOKEN": TOKEN},
        )  # fmt: skip
    try:
        yield {n: (c, c.wait_ready(seconds(30))) for n, c in children.items()}
    finally:
        for child in children.values():
            child.stop(seconds(10))


def argv(ready: dict[str, Any], tls_files: TlsFiles, *extra: str) -> list[str]:
    return [
        "--url", ready["url"], "--account-sid", ready["account_sid"],
        "--conference", ready["conferences"][0], "--ca-file", str(tls_files.ca_file),
        "--hold", "0.2", *extra,
    ]  # fmt: skip


def conform(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness.conform", *args],
        capture_output=True,
        text=True,
        timeout=seconds(60),
        stdin=subprocess.DEVNULL,
        env={**os.environ, "SIGNALWIRE_API_TOKEN": TOKEN},
    )


def wait_idle(child: Child) -> None:
    """Until the platform reports no live stream (bounded)."""
    deadline = time.monotonic() + seconds(10)
    while time.monotonic() < deadline:
        if child.stats.get("streams_active") == 0:
            return
        time.sleep(0.05)
    pytest.fail(f"streams still live: {child.stats}")


def test_a_conformant_platform_passes_and_records_every_check(
    platforms, tls_files: TlsFiles, tmp_path: Path
) -> None:
    child, ready = platforms["clean"]
    proc = conform(argv(ready, tls_files, "--run-dir", str(tmp_path)))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert all(line.startswith("PASS ") for line in lines), proc.stdout
    rules = {line.split()[1] for line in lines}
    assert {f"REST-REJECT-{i:03d}" for i in range(1, 12)} <= rules
    assert {"REST-ERROR-001", "REST-CREATE-006", "REST-STOP-002"} <= rules
    assert "REST-REJECT-001 1/1 [400/31922]" in proc.stdout
    checks = pq.read_table(tmp_path / "records" / "rule_checks").to_pylist()
    assert {r["source"] for r in checks} == {"negative"}
    assert {r["subject"] for r in checks} >= {"negative:ws-url", "conform:stop-by-sid"}
    assert sum(r["failures"] for r in checks) == 0
    wait_idle(child)
    for path in tmp_path.rglob("*.parquet"):
        assert TOKEN.encode() not in path.read_bytes()
    assert TOKEN not in proc.stdout + proc.stderr


def test_a_platform_that_takes_ws_urls_fails_and_its_stream_is_stopped(
    platforms, tls_files: TlsFiles
) -> None:
    child, ready = platforms["lenient"]
    proc = conform(argv(ready, tls_files))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    failing = [line for line in proc.stdout.splitlines() if not line.startswith("PASS")]
    assert failing[0].startswith("FAIL REST-REJECT-001 0/1 [200]")
    assert (
        "expected 400 (code 31922) or 422 (code 31922); got 200 (accepted)"
        in failing[0]
    )
    assert failing[1:] == ["stopped 1 stream(s) invalid requests created"]
    wait_idle(child)


def test_without_a_conference_it_discovers_one_as_the_load_does(
    platforms, tls_files: TlsFiles
) -> None:
    child, ready = platforms["clean"]
    args = argv(ready, tls_files)
    at = args.index("--conference")
    done = conform(args[:at] + args[at + 2 :])
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(
        f"conference {ready['conferences'][0]} (discovered, 1 of 1 in progress)\n"
    )
    assert "PASS REST-REJECT-001" in done.stdout
    wait_idle(child)


def test_a_target_with_no_conference_exits_2_naming_the_fix(
    platforms, tls_files: TlsFiles
) -> None:
    _, ready = platforms["idle"]
    assert ready["conferences"] == []
    done = conform(
        ["--url", ready["url"], "--account-sid", ready["account_sid"],
         "--ca-file", str(tls_files.ca_file)]
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr == (
        "python -m harness.conform: --conference: no in-progress conference on the "
        "target; start one (a call into a conference) or give --conference\n"
    )
    assert done.stdout == ""


def test_in_process_run_and_summary(platforms, tls_files: TlsFiles) -> None:
    _, ready = platforms["clean"]
    rows = MemorySink()
    outcome = run_suite(
        Options(
            api_base=ready["url"],
            account_sid=ready["account_sid"],
            conference_sid=ready["conferences"][0],
            token=Secret(TOKEN),
            ca_file=tls_files.ca_file,
            hold_s=0.0,
        ),
        rows,
        sleep=lambda s: None,
    )
    assert not outcome.failed and outcome.cleaned == []
    assert len(rows.rows["rule_checks"]) == sum(len(c.counts) for c in outcome.checkers)
    assert summary_lines(outcome)[0].startswith("PASS REST-CREATE-001 3/3")


def test_no_answer_is_a_failed_check(tls_files: TlsFiles) -> None:
    outcome = run_suite(
        Options(
            api_base="https://127.0.0.1:9/api/laml/2010-04-01",
            account_sid="a",
            conference_sid="c",
            token=Secret(TOKEN),
            ca_file=tls_files.ca_file,
            hold_s=0.0,
            timeout_s=2.0,
        )
    )
    assert outcome.failed
    assert any(
        "no answer: ConnectionRefusedError" in line for line in summary_lines(outcome)
    )


ENV = {"SIGNALWIRE_API_TOKEN": TOKEN}
BASE = [
    "--url",
    "https://h/api/laml/2010-04-01",
    "--account-sid",
    "a",
    "--conference",
    "c",
]


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (BASE, {}, "SIGNALWIRE_API_TOKEN: is not set; export the API token in it"),
        (["--url", "http://h/x", *BASE[2:]], ENV,
         "--url: 'http://h/x' is not an https base URL (http only on loopback); "
         "give e.g. https://HOST/api/laml/2010-04-01"),
        ([*BASE, "--stream-url", "ws://r/s"], ENV,
         "--stream-url: 'ws://r/s' is not wss://; give a wss:// URL"),
        ([*BASE, "--ca-file", "/nonexistent.pem"], ENV,
         "--ca-file: '/nonexistent.pem' is not a file; give a PEM file"),
        ([*BASE, "--timeout", "0"], ENV, "--timeout: 0.0 is out of range; give seconds > 0"),
        ([*BASE, "--status-callback", "ftp://x"], ENV,
         "--status-callback: 'ftp://x' is not http(s); give an https:// URL"),
    ],
)  # fmt: skip
def test_usage_errors_name_the_field_and_the_fix(
    args: list[str], env: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError) as info:
        parse_args(args, env)
    assert str(info.value) == message


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    saved = os.environ.pop("SIGNALWIRE_API_TOKEN", None)
    try:
        assert main(BASE) == 2
    finally:
        if saved is not None:
            os.environ["SIGNALWIRE_API_TOKEN"] = saved
    assert "SIGNALWIRE_API_TOKEN: is not set" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        parse_args(["--url"], ENV)
    assert info.value.code == 2


def test_secrets_come_from_the_environment_only() -> None:
    options = parse_args(BASE, {**ENV, "STREAMLOAD_BEARER_TOKEN": "b"})
    assert options.token == Secret(TOKEN) and options.bearer == Secret("b")
    assert TOKEN not in repr(options)


def test_plain_http_only_on_loopback_and_the_conference_may_be_left_out() -> None:
    options = parse_args(
        ["--url", "http://127.0.0.1:8080/api/laml/2010-04-01", "--account-sid", "a"],
        ENV,
    )
    assert options.api_base.startswith("http://127.0.0.1:8080")
    assert options.conference_sid == ""  # discovered by main()


def test_a_sid_is_read_from_any_body_without_raising() -> None:
    from harness.conform.suite import _sid

    assert _sid(b"[" * 100_000 + b"]" * 100_000) is None
    assert _sid(b'{"sid": "s-1"}') == "s-1"
