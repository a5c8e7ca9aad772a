"""The services a user deploys, started as a user would: ``streamload receive``,
``streamload callbacks`` and ``streamload platform`` with no flag (a throwaway
CA in the run directory) or plain behind a (pretend) TLS terminator.

Every client here is real: websockets over TLS trusting the printed CA, an
HTTPS POST, the ``twilio`` package starting a stream on the platform.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import pyarrow.parquet as pq
import pytest
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client
from websockets.asyncio.client import connect

from harness.core.callbacks import METHOD_PARAM, signature
from harness.core.secret import Secret
from harness.io.tls import client_context
from tests.conftest import seconds
from tests.receivers.helpers import run_async, stream_messages


class Service:
    """``streamload <command>`` in ``cwd``: its ready line and its later lines."""

    def __init__(
        self, cwd: Path, *argv: str, env: dict[str, str] | None = None
    ) -> None:
        clean = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("SIGNALWIRE_", "STREAMLOAD_"))
        }
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "harness.run.cli", *argv],
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**clean, **(env or {})},
            text=True,
        )
        self.lines: list[dict[str, Any]] = []
        self._got = threading.Condition()
        self._err: str | None = None
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._got:
                event: dict[str, Any] = json.loads(line)
                self.lines.append(event)
                self._got.notify_all()

    def wait(self, event: str, timeout: float = 30, **fields: Any) -> dict[str, Any]:
        def found() -> dict[str, Any] | None:
            for seen in reversed(self.lines):
                if seen["event"] == event and all(
                    seen.get(k) == v for k, v in fields.items()
                ):
                    return dict(seen)
            return None

        with self._got:
            self._got.wait_for(
                lambda: found() is not None or self.proc.poll() is not None,
                seconds(timeout),
            )
            line = found()
        assert line is not None, f"no {event} {fields} line; stderr: {self.stderr()}"
        return line

    def stop(self) -> int:
        """SIGTERM, wait, and close the pipes (stderr is kept for :meth:`stderr`)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(seconds(20))
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        self.stderr()
        self._reader.join(seconds(5))
        assert self.proc.stdout is not None
        self.proc.stdout.close()
        return code

    def stderr(self) -> str:
        if self.proc.poll() is None:
            return "(running)"
        if self._err is None:
            assert self.proc.stderr is not None
            self._err = self.proc.stderr.read()
            self.proc.stderr.close()
        return self._err


@contextlib.contextmanager
def service(cwd: Path, *argv: str, **kw: Any) -> Iterator[Service]:
    s = Service(cwd, *argv, **kw)
    try:
        yield s
    finally:
        s.stop()


def test_receive_starts_with_no_flag_and_a_tls_client_trusts_its_ca(
    tmp_path: Path,
) -> None:
    _, messages = stream_messages(10)
    with service(tmp_path, "receive", "--stats-interval", "0.1") as rx:
        ready = rx.wait("ready")
        assert ready["url"].startswith("wss://127.0.0.1:")
        assert ready["listen"] == urlsplit(ready["url"]).netloc
        ca = Path(ready["ca_file"])
        assert ca.is_file() and ca.is_relative_to(tmp_path / "runs")

        async def stream() -> None:
            async with connect(
                ready["url"], ssl=client_context(ca), ping_interval=None
            ) as ws:
                for m in messages:
                    await ws.send(m)

        run_async(stream)
        rx.wait("stats", frames=10)
        assert rx.stop() == 0
    run_dir = Path(ready["run_dir"])
    assert run_dir.parent == Path("runs") and run_dir.name.startswith("receiver-")
    assert (tmp_path / run_dir / "records" / "streams").is_dir()


def test_receive_plain_on_loopback_takes_a_plain_ws_client(tmp_path: Path) -> None:
    _, messages = stream_messages(10)
    with service(
        tmp_path, "receive", "--tls", "off", "--stats-interval", "0.1",
        "--run-dir", "rx",
    ) as rx:  # fmt: skip
        ready = rx.wait("ready")
        assert ready["url"].startswith("ws://127.0.0.1:") and ready["ca_file"] is None

        async def stream() -> None:
            async with connect(ready["url"], ping_interval=None) as ws:
                for m in messages:
                    await ws.send(m)

        run_async(stream)
        rx.wait("stats", frames=10, violations=0)
        assert rx.stop() == 0
    checks = pq.read_table(tmp_path / "rx" / "records" / "rule_checks").to_pylist()
    # behind a terminator the plain hop says nothing about TLS: not checked here
    assert "WS-HANDSHAKE-002" not in {r["rule"] for r in checks}
    assert not list((tmp_path / "rx").glob("tls"))


@pytest.mark.parametrize("transport", ["picows", "websockets"])
def test_behind_a_proxy_the_receiver_still_checks_the_bearer_token(
    tmp_path: Path, transport: str
) -> None:
    _, messages = stream_messages(3)
    public = "wss://rx.example.com/stream"
    with service(
        tmp_path, "receive", "--tls", "off", "--behind-proxy", "--public-url", public,
        "--stats-interval", "0.1", "--run-dir", "rx", "--transport", transport,
        env={"STREAMLOAD_BEARER_TOKEN": "proxy-token-Zq8"},
    ) as rx:  # fmt: skip
        ready = rx.wait("ready")
        assert ready["url"] == public
        local = ready["local_url"]
        assert local.startswith("ws://127.0.0.1:")

        async def attempt(token: str) -> bool:
            headers = {"X-Forwarded-For": "203.0.113.7", "Authorization": token}
            try:
                async with connect(
                    local, additional_headers=headers, ping_interval=None
                ) as ws:
                    for m in messages:
                        await ws.send(m)
                return True
            except Exception:
                return False

        assert not run_async(lambda: attempt("Bearer wrong"))
        assert run_async(lambda: attempt("Bearer proxy-token-Zq8"))
        rx.wait("stats", refused=1, frames=3)
        assert rx.stop() == 0
        # the client the proxy names; the proxy's own address where the
        # transport shows the socket at the upgrade (picows' factory does not)
        via = "127.0.0.1" if transport == "websockets" else "the proxy"
        assert f"refused an upgrade from 203.0.113.7 (via {via})" in rx.stderr()
        assert "proxy-token-Zq8" not in rx.stderr()


def _post(url: str, body: dict[str, str], sign_as: str, ca: Path | None) -> int:
    target = f"{url}?{METHOD_PARAM}=POST"
    signed = f"{sign_as}?{METHOD_PARAM}=POST"
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-SignalWire-Signature": signature(
            Secret("sink-key"), signed, list(body.items())
        ),
        "X-Forwarded-For": "198.51.100.9",
    }
    parts = urlsplit(target)
    conn: http.client.HTTPConnection = (
        http.client.HTTPSConnection(
            parts.hostname or "", parts.port, context=client_context(ca)
        )
        if parts.scheme == "https"
        else http.client.HTTPConnection(parts.hostname or "", parts.port)
    )
    try:
        conn.request("POST", f"{parts.path}?{parts.query}", urlencode(body), headers)
        answer = conn.getresponse()
        answer.read()
        return answer.status
    finally:
        conn.close()


CALLBACK = {
    "AccountSid": "b08dacad-2f6c-4de1-93d6-cc732e0c69c5",
    "StreamSid": "7d56cc11-536d-4a45-b4fb-ed3d55be843b",
    "StreamName": "n",
    "StreamEvent": "stream-started",
    "StreamTrack": "inbound_track",
    "Timestamp": "2026-11-25T13:20:31.083+00:00",
}


def test_callbacks_start_with_no_flag_and_take_https_with_that_ca(
    tmp_path: Path,
) -> None:
    with service(
        tmp_path, "callbacks", "--stats-interval", "0.1",
        env={"SIGNALWIRE_SIGNING_KEY": "sink-key"},
    ) as cb:  # fmt: skip
        ready = cb.wait("ready")
        url = ready["url"]
        assert url.startswith("https://127.0.0.1:") and url.endswith("/callbacks")
        assert _post(url, CALLBACK, url, Path(ready["ca_file"])) == 200
        cb.wait("stats", callbacks=1)
        assert cb.stop() == 0
    rows = pq.read_table(tmp_path / ready["run_dir"] / "records" / "callbacks")
    assert [r["signature"] for r in rows.to_pylist()] == ["valid"]


def test_plain_callbacks_behind_a_proxy_check_signatures_on_the_public_url(
    tmp_path: Path,
) -> None:
    public = "https://cb.example.com/hooks/callbacks"
    with service(
        tmp_path, "callbacks", "--tls", "off", "--behind-proxy", "--public-url", public,
        "--path", "/hooks/callbacks", "--stats-interval", "0.1", "--run-dir", "cb",
        env={"SIGNALWIRE_SIGNING_KEY": "sink-key"},
    ) as cb:  # fmt: skip
        ready = cb.wait("ready")
        assert ready["url"] == public and ready["ca_file"] is None
        local = ready["local_url"]
        assert local.startswith("http://127.0.0.1:")
        # the terminator forwards plain http; the platform signed the public URL
        assert _post(local, CALLBACK, public, None) == 200
        cb.wait("stats", callbacks=1)
        assert cb.stop() == 0
        assert "callbacks from 198.51.100.9" in cb.stderr()
    rows = pq.read_table(tmp_path / "cb" / "records" / "callbacks").to_pylist()
    assert [r["signature"] for r in rows] == ["valid"]


@pytest.mark.parametrize("command", ["receive", "callbacks", "platform"])
def test_plain_off_loopback_without_a_terminator_exits_2_with_the_fix(
    tmp_path: Path, command: str
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "harness.run.cli", command, "--tls", "off",
         "--listen", "0.0.0.0:0"],
        cwd=tmp_path, capture_output=True, text=True, timeout=seconds(60),
    )  # fmt: skip
    assert done.returncode == 2
    assert "--tls: off on 0.0.0.0 would carry" in done.stderr
    assert "add --behind-proxy" in done.stderr
    assert not (tmp_path / "runs").exists()


def test_platform_starts_with_no_flag_and_twilio_starts_a_stream_with_its_ca(
    tmp_path: Path,
) -> None:
    with (
        service(tmp_path, "receive", "--stats-interval", "0.1") as rx,
        service(
            tmp_path,
            "platform",
            "--port",
            "0",
            "--dialect",
            "twilio",
            "--stats-interval",
            "0.2",
        ) as platform,  # fmt: skip
    ):
        receiver_url = rx.wait("ready")["url"]
        ready = platform.wait("ready")
        ca = Path(ready["ca_file"])
        assert ca.is_file() and ready["url"].startswith("https://127.0.0.1:")
        token = (tmp_path / ready["token_file"]).read_text().strip()
        http = TwilioHttpClient(timeout=10)
        assert http.session is not None
        http.session.verify = str(ca)
        http.session.trust_env = False
        client = Client(ready["account_sid"], token, http_client=http)
        client.api.base_url = ready["url"].removesuffix("/2010-04-01")
        try:
            created = client.calls(ready["calls"][0]).streams.create(
                url=receiver_url, name="no-flags"
            )
            assert created.sid.startswith("MZ")
            rx.wait("stats", timeout=20, streams_open=1)
        finally:
            http.session.close()
        assert platform.stop() == 0
        assert rx.stop() == 0


def _free_ports(n: int) -> list[int]:
    import socket

    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def test_a_run_starts_every_service_on_the_addresses_it_is_given(
    tmp_path: Path,
) -> None:
    from tests.e2e.runs import streamload, table

    rx, rx_open, cb = _free_ports(3)
    out = tmp_path / "run"
    done = streamload(
        "run", "--profile", "smoke", "--duration", "4s", "--out", str(out),
        "--bearer-token", "on,off", "--status-callback", "off,on",
        "--receiver-listen", f"127.0.0.1:{rx}",
        "--receiver-open-listen", f"127.0.0.1:{rx_open}",
        "--callback-listen", f"127.0.0.1:{cb}",
        "--callback-url", f"https://127.0.0.1:{cb}/hooks",
    )  # fmt: skip
    assert done.returncode in (0, 1), done.stderr
    assert f"receiver wss://127.0.0.1:{rx}/stream" in done.stderr
    assert (
        f"receiver for streams without a bearer token: wss://127.0.0.1:{rx_open}/stream"
        in done.stderr
    )
    assert f"status callbacks: https://127.0.0.1:{cb}/hooks" in done.stderr
    assert table(out, "callbacks"), "the sink on --callback-listen got no callback"
    # each receiver records its streams under its own producer name
    files = {f.name.rsplit("-", 1)[0] for f in (out / "records" / "streams").iterdir()}
    assert {"receiver-0", "receiver-open"} <= files
