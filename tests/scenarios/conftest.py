"""A real reference platform and receiver on loopback for Locust to drive."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from harness.io.tls import TlsFiles
from harness.run.processes import Child
from tests.conftest import REPO, seconds


TOKEN = "scenario-test-api-token-1234"
BEARER = "scenario-test-bearer-5678"


@pytest.fixture(scope="module")
def services(
    tmp_path_factory: pytest.TempPathFactory, tls_files: TlsFiles
) -> Iterator[dict[str, Any]]:
    run = tmp_path_factory.mktemp("scenario-run")
    env = {"SIGNALWIRE_API_TOKEN": TOKEN, "STREAMLOAD_BEARER_TOKEN": BEARER}
    tls = [
        "--cert-file",
        str(tls_files.cert_file),
        "--key-file",
        str(tls_files.key_file),
    ]
    receiver = Child(
        "receiver",
        ["-m", "receivers", *tls, "--run-dir", str(run), "--max-duration", "300"],
        log_dir=run / "logs",
        env=env,
    )
    account = str(uuid.uuid4())
    platform = Child(
        "platform",
        [
            "-m",
            "harness.platform",
            *tls,
            "--ca-file",
            str(tls_files.ca_file),
            "--validate-certificate",
            "--run-dir",
            str(run),
            "--account-sid",
            account,
            "--max-duration",
            "300",
        ],
        log_dir=run / "logs",
        env=env,
    )
    try:
        yield {
            "run": run,
            "env": env,
            "account": account,
            "receiver": receiver.wait_ready(seconds(60)),
            "platform": platform.wait_ready(seconds(60)),
            "children": (platform, receiver),
        }
    finally:
        platform.stop(seconds(20))
        receiver.stop(seconds(20))


def locust_argv(
    services: dict[str, Any], tls_files: TlsFiles, *extra: str
) -> list[str]:
    return [
        "-m",
        "locust",
        "-f",
        str(REPO / "scenarios" / "locustfile.py"),
        "--headless",
        "--host",
        services["platform"]["url"],
        "--only-summary",
        "--loglevel",
        "WARNING",
        "--exit-code-on-error",
        "0",
        "--sl-run-dir",
        str(services["run"]),
        "--sl-run-id",
        "scn",
        "--sl-account-sid",
        services["account"],
        "--sl-receiver-url",
        services["receiver"]["url"],
        "--sl-ca-file",
        str(tls_files.ca_file),
        *extra,
    ]
