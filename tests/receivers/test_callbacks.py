"""``python -m receivers.callbacks`` as a real process on loopback: HTTPS in, records out."""

from __future__ import annotations

import http.client
import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pyarrow.parquet as pq
import pytest

from harness.core.callbacks import METHOD_PARAM, signature
from harness.core.secret import Secret
from harness.io.tls import TlsFiles, client_context
from harness.run.processes import Child
from receivers.callbacks import parse_args
from tests.conftest import seconds


KEY = "callback-signing-key-Jw2Xs5"
SID = "7d56cc11-536d-4a45-b4fb-ed3d55be843b"


def params(event: str) -> dict[str, str]:
    return {
        "AccountSid": "b08dacad-2f6c-4de1-93d6-cc732e0c69c5",
        "StreamSid": SID,
        "StreamName": "n",
        "StreamEvent": event,
        "StreamTrack": "inbound_track",
        "Timestamp": "2026-11-25T13:20:31.083+00:00",
    }


def send(
    url: str, tls_files: TlsFiles, method: str, p: dict[str, str], *, key: str = KEY
) -> int:
    target = f"{url}?{METHOD_PARAM}={method}"
    body, signed = "", list(p.items())
    if method == "GET":
        target += "&" + urlencode(p)
        signed = []
    else:
        body = urlencode(p)
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-SignalWire-Signature": signature(Secret(key), target, signed),
    }
    parts = urlsplit(target)
    conn = http.client.HTTPSConnection(
        parts.hostname or "", parts.port, context=client_context(tls_files.ca_file)
    )
    try:
        conn.request(method, f"{parts.path}?{parts.query}", body or None, headers)
        answer = conn.getresponse()
        answer.read()
        return answer.status
    finally:
        conn.close()


def test_callbacks_are_checked_recorded_and_flushed_on_sigterm(
    tmp_path: Path, tls_files: TlsFiles
) -> None:
    child = Child(
        "callbacks",
        ["-m", "receivers.callbacks", "--cert-file", str(tls_files.cert_file),
         "--key-file", str(tls_files.key_file), "--run-dir", str(tmp_path),
         "--stats-interval", "0.1", "--max-duration", "60"],
        log_dir=tmp_path / "logs",
        env={"SIGNALWIRE_SIGNING_KEY": KEY},
    )  # fmt: skip
    try:
        ready = child.wait_ready(seconds(30))
        assert ready["pid"] == child.proc.pid and ready["ca_file"] is None
        assert set(ready) == {
            "event",
            "url",
            "listen",
            "local_url",
            "ca_file",
            "pid",
            "run_dir",
        }
        url = ready["url"]
        assert url.startswith("https://127.0.0.1:") and url.endswith("/callbacks")
        assert send(url, tls_files, "POST", params("stream-started")) == 200
        assert send(url, tls_files, "GET", params("stream-stopped")) == 200
        # a second stream: unsigned by the wrong key, and stopped before it started
        other = {**params("stream-stopped"), "StreamSid": "s2"}
        assert send(url, tls_files, "POST", other, key="wrong") == 200
        deadline = time.monotonic() + seconds(10)
        while child.stats.get("callbacks") != 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert child.stats["callbacks"] == 3 and child.stats["streams"] == 2
        assert child.stop(seconds(10), signal.SIGTERM) == 0
    finally:
        if child.alive():
            child.stop(seconds(10))
    records = tmp_path / "records"
    rows = pq.read_table(records / "callbacks").to_pylist()
    assert [(r["event"], r["method"], r["signature"]) for r in rows] == [
        ("stream-started", "POST", "valid"),
        ("stream-stopped", "GET", "valid"),
        ("stream-stopped", "POST", "invalid"),
    ]
    checks = pq.read_table(records / "rule_checks").to_pylist()
    failed = {(r["subject"], r["rule"]) for r in checks if r["failures"]}
    assert failed == {("s2", "CB-001"), ("s2", "CB-004")}
    assert {r["source"] for r in checks} == {"callback"}
    producers = pq.read_table(records / "producers").to_pylist()
    assert producers[0]["kind"] == "callback"
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert KEY.encode() not in path.read_bytes(), path


def test_other_paths_are_not_found(tmp_path: Path, tls_files: TlsFiles) -> None:
    child = Child(
        "callbacks",
        ["-m", "receivers.callbacks", "--cert-file", str(tls_files.cert_file),
         "--key-file", str(tls_files.key_file), "--run-dir", str(tmp_path),
         "--path", "/cb"],
        log_dir=tmp_path / "logs",
    )  # fmt: skip
    try:
        url = child.wait_ready(seconds(30))["url"]
        assert url.endswith("/cb")
        assert (
            send(url.removesuffix("/cb") + "/other", tls_files, "POST", params("x"))
            == 404
        )
    finally:
        assert child.stop(seconds(10)) == 0


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--port", "70000"], "--port: 70000 is out of range; use 0..65535 (0 picks one)"),
        (["--path", "cb"], "--path: 'cb' does not start with /; use e.g. /callbacks"),
        (["--stats-interval", "0"], "--stats-interval: 0.0 is not positive; give a number of seconds > 0"),
    ],
)  # fmt: skip
def test_usage_errors_exit_2_naming_the_fix(
    tmp_path: Path, tls_files: TlsFiles, extra: list[str], message: str
) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "receivers.callbacks", "--cert-file", str(tls_files.cert_file),
         "--key-file", str(tls_files.key_file), "--run-dir", str(tmp_path), *extra],
        capture_output=True, text=True, timeout=seconds(30), stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"streamload callbacks: {message}"
    assert proc.stdout == ""


def test_the_signing_key_comes_from_the_environment(tls_files: TlsFiles) -> None:
    files = [
        "--cert-file",
        str(tls_files.cert_file),
        "--key-file",
        str(tls_files.key_file),
    ]
    options = parse_args(
        [*files, "--run-dir", "/tmp/x"], {"SIGNALWIRE_SIGNING_KEY": KEY}
    )
    assert options.signing_key == Secret(KEY) and KEY not in repr(options)
    assert parse_args([*files, "--run-dir", "/tmp/x"], {}).signing_key is None
    assert json.dumps(str(options.signing_key)) == '"[secure]"'
