"""Locust options as a user sets them: errors name the flag and exit 2."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pyarrow.parquet as pq
import pytest

from harness.io.tls import TlsFiles
from tests.conftest import seconds
from tests.scenarios.conftest import locust_argv


pytestmark = pytest.mark.e2e


def test_a_bad_option_names_the_flag_and_exits_2(
    services: dict[str, Any], tls_files: TlsFiles
) -> None:
    argv = locust_argv(
        services, tls_files, "--users", "1", "--run-time", "2s", "--sl-codecs", "G722"
    )
    proc = subprocess.run(
        [sys.executable, *argv],
        env={**os.environ, **services["env"]},
        capture_output=True,
        text=True,
        timeout=seconds(60),
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 2
    assert (
        "streamload: --sl-codecs: 'G722' is not allowed; use PCMU, PCMA" in proc.stderr
    )


def test_the_account_can_come_from_the_environment(
    services: dict[str, Any], tls_files: TlsFiles
) -> None:
    """--sl-account-sid falls back to SIGNALWIRE_PROJECT_ID, as the platform's SDKs do."""
    argv = locust_argv(
        services,
        tls_files,
        "--users",
        "1",
        "--run-time",
        "2s",
        "--sl-hold",
        "0.2",
        "--sl-run-id",
        "env-account",
    )
    argv.remove("--sl-account-sid")
    argv.remove(services["account"])
    env = {
        **os.environ,
        **services["env"],
        "SIGNALWIRE_PROJECT_ID": services["account"],
    }
    proc = subprocess.run(
        [sys.executable, *argv],
        env=env,
        capture_output=True,
        text=True,
        timeout=seconds(60),
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = pq.read_table(services["run"] / "records" / "requests").to_pylist()
    mine = [r for r in rows if r["run_id"] == "env-account"]
    assert mine and all(r["status"] == 200 for r in mine)
