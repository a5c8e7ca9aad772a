"""Schema-driven fuzzing: schemathesis against the platform with SignalWire's OpenAPI excerpt.

Every operation of ``spec/signalwire-compat-streams.openapi.yaml`` (conference
and call stream create and stop) gets a bounded number of generated requests,
valid ones (positive mode) and invalid ones (negative mode), sent to a real
``python -m harness.platform`` process. Every answer must be a documented
status with a body that matches its schema, and none may be a 5xx
(``--fault api-error`` stays off here).

The generated path ids are mostly swapped for the platform's real account,
conference, call and stream, so the requests reach the handlers instead of
stopping at a 404; one in four keeps its generated value. Traffic stays on
loopback: any ``Url`` or ``StatusCallback`` the platform would accept is
re-aimed at a loopback port that refuses connections, keeping its path, query
and scheme, so what is valid stays valid and nothing is dialled elsewhere.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from harness.io.tls import TlsFiles
from tests.conftest import data_file, seconds


SPEC = "spec/signalwire-compat-streams.openapi.yaml"
TOKEN = "fuzz-api-token-Qr7Vb2"
EXAMPLES = 25
"""Examples per operation and mode: 4 operations x 2 modes x 25 = 200 requests."""
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


class Target:
    """A platform process, a refusing loopback port, and ids to aim requests at."""

    def __init__(self, ready: dict[str, Any], refusing_port: int, tls: TlsFiles):
        self.ready = ready
        self.base = str(ready["url"])
        self.account = str(ready["account_sid"])
        self.conference = str(ready["conferences"][0])
        self.call = str(ready["calls"][0])
        self.port = refusing_port
        raw = base64.b64encode(f"{self.account}:{TOKEN}".encode()).decode()
        self.headers = {"Authorization": f"Basic {raw}"}
        self.session = requests.Session()
        self.session.verify = str(tls.ca_file)
        self.session.trust_env = False
        self.streams: dict[str, list[str]] = {}
        self.count = itertools.count()

    def create(self, kind: str, path: str) -> None:
        """A named stream to stop, by sid and by name (it fails to connect: no matter)."""
        name = f"fuzz-{kind.lower()}"
        answer = self.session.post(
            f"{self.base}{path}",
            data={"Url": f"wss://127.0.0.1:{self.port}/x", "Name": name},
            headers=self.headers,
            timeout=seconds(10),
        )
        assert answer.status_code == 200, answer.text
        self.streams[kind] = [answer.json()["sid"], name]

    def aim(self, case: Case[Any]) -> None:
        """Point the case at real ids most of the time, and any URL at loopback."""
        n = next(self.count)
        params = case.path_parameters or {}
        if n % 4:
            params["AccountSid"] = self.account
            if "ConferenceSid" in params:
                params["ConferenceSid"] = self.conference
            if "CallSid" in params:
                params["CallSid"] = self.call
            if "Sid" in params:
                kind = "Conferences" if "ConferenceSid" in params else "Calls"
                known = self.streams[kind]
                params["Sid"] = known[n % len(known)]
        case.path_parameters = params
        if isinstance(case.body, dict):
            for field in ("Url", "StatusCallback"):
                value = case.body.get(field)
                if isinstance(value, str):
                    case.body[field] = self._loopback(value)

    def _loopback(self, url: str) -> str:
        try:
            parts = urlsplit(url)
        except ValueError:
            return url  # the platform refuses what cannot be split
        if parts.scheme.lower() not in ("wss", "ws", "http", "https"):
            return url
        if not parts.netloc:
            return url
        return urlunsplit(
            (parts.scheme, f"127.0.0.1:{self.port}", parts.path, parts.query, "")
        )


@pytest.fixture(scope="module")
def target(
    tls_files: TlsFiles, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Target]:
    refusing = socket.socket()  # bound, never listening: every dial is refused at once
    refusing.bind(("127.0.0.1", 0))
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIGNALWIRE_")}
    env["SIGNALWIRE_API_TOKEN"] = TOKEN
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness.platform",
         "--cert-file", str(tls_files.cert_file), "--key-file", str(tls_files.key_file),
         "--ca-file", str(tls_files.ca_file),
         "--run-dir", str(tmp_path_factory.mktemp("fuzz")),
         "--conferences", "1", "--calls", "1", "--log-level", "ERROR",
         "--max-duration", "300"],
        stdout=subprocess.PIPE,
        env=env,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line, "the platform exited before its ready line"
        t = Target(json.loads(line), refusing.getsockname()[1], tls_files)
        account = f"/Accounts/{t.account}"
        t.create("Conferences", f"{account}/Conferences/{t.conference}/Streams")
        t.create("Calls", f"{account}/Calls/{t.call}/Streams")
        yield t
        t.session.close()
    finally:
        proc.terminate()
        proc.wait(seconds(20))
        if proc.stdout is not None:
            proc.stdout.close()
        refusing.close()


def operations() -> list[Any]:
    schema = schemathesis.openapi.from_path(data_file(SPEC))
    found = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result  # the excerpt resolves completely
        found.append(result.ok())
    return found


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_5xx_and_every_answer_matches_the_spec(
    target: Target, mode: GenerationMode
) -> None:
    ops = operations()
    assert {op.definition.raw["operationId"] for op in ops} == {
        "create_conference_stream",
        "update_conference_stream",
        "create_stream",
        "update_stream",
    }
    statuses: dict[int, int] = {}
    for operation in ops:

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,  # the same requests on every run: CI stays stable
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(generation_mode=mode))
        def fuzz(case: Case[Any]) -> None:
            target.aim(case)
            response = case.call(
                base_url=target.base,
                session=target.session,
                headers=target.headers,
                verify=target.session.verify,
                timeout=seconds(10),
            )
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            case.validate_response(response, checks=CHECKS, headers=target.headers)

        fuzz()
    print(f"\n{mode}: HTTP statuses {dict(sorted(statuses.items()))}")
    assert not any(status >= 500 for status in statuses)
    assert 200 in statuses and 404 in statuses  # the real ids were reached, and not
    if mode is GenerationMode.NEGATIVE:
        assert statuses.keys() & {400, 422}
