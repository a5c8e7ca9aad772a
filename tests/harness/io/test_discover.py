"""harness.io.discover: the in-progress conferences of a real (reference) platform."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.core.secret import Secret
from harness.io.discover import DiscoveryError, discover_conferences
from harness.io.tls import TlsFiles
from harness.run.processes import Child
from tests.conftest import seconds


ACCOUNT = str(uuid.uuid4())
TOKEN = "discover-token-Qw7"


def serve(tmp_path: Path, tls_files: TlsFiles, conferences: int) -> Child:
    return Child(
        f"platform-{conferences}",
        [
            "-m", "harness.platform", "--cert-file", str(tls_files.cert_file),
            "--key-file", str(tls_files.key_file), "--account-sid", ACCOUNT,
            "--conferences", str(conferences), "--max-duration", "60",
            "--run-dir", str(tmp_path / f"run-{conferences}"),
        ],
        log_dir=tmp_path / "logs",
        env={"SIGNALWIRE_API_TOKEN": TOKEN},
    )  # fmt: skip


@pytest.fixture
def platforms(tmp_path: Path, tls_files: TlsFiles) -> Iterator[tuple[str, str]]:
    """(URL with two conferences, URL with none), as a real space would answer."""
    two, none = serve(tmp_path, tls_files, 2), serve(tmp_path, tls_files, 0)
    try:
        ready = two.wait_ready(seconds(60))
        assert len(ready["conferences"]) == 2
        yield str(ready["url"]), str(none.wait_ready(seconds(60))["url"])
    finally:
        two.stop(seconds(20))
        none.stop(seconds(20))


def test_finds_the_conferences_in_progress_or_none(
    platforms: tuple[str, str], tls_files: TlsFiles
) -> None:
    busy, idle = platforms
    found = discover_conferences(
        busy, ACCOUNT, Secret(TOKEN), ca_file=tls_files.ca_file
    )
    assert len(found) == 2 and all(found)
    assert (
        discover_conferences(idle, ACCOUNT, Secret(TOKEN), ca_file=tls_files.ca_file)
        == []
    )
    with pytest.raises(DiscoveryError) as refused:
        discover_conferences(busy, ACCOUNT, Secret("wrong"), ca_file=tls_files.ca_file)
    assert refused.value.status == 401
    assert refused.value.problem == "HTTP 401 listing conferences"


def test_no_answer_is_status_0() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed when the with ends: nothing listens
    with pytest.raises(DiscoveryError) as failed:
        discover_conferences(
            f"http://127.0.0.1:{port}/api/laml/2010-04-01", ACCOUNT, Secret(TOKEN),
            timeout_s=seconds(5),
        )  # fmt: skip
    assert failed.value.status == 0
    assert failed.value.problem == "no answer (ConnectionRefusedError)"
