"""Each contract-defect switch of the reference platform trips exactly its rule(s).

The real pipeline: one receiver (``python -m receivers``, bearer token set)
and one callback sink (``python -m receivers.callbacks``, signing key set),
shared by one reference platform per defect (``python -m harness.platform
--defect NAME``), all started at once; then the negative suite
(:func:`harness.conform.suite.run_suite`, in threads) against every platform, whose
valid streams go to the receiver and report to the sink. Rows are tied back to
their defect by stream sid (each platform's ``platform_streams``), the
refused handshakes to ``bearer-missing`` (the only defect that causes any).
Two platforms without a defect (SignalWire and Twilio dialects) prove the
same pipeline passes every rule. The receiver's streams are also joined to the
suite's start requests by sid (:mod:`harness.core.join`, as the report does), whose
verdicts replace the receiver's where they supersede them: that is how a
platform that drops or forges the correlation parameter is caught.
"""

from __future__ import annotations

import signal
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Final

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from harness.conform.suite import Options, run_suite
from harness.core.join import ArrivedStream, SentRequest, join
from harness.core.records import MemorySink, columns
from harness.core.rules import RULES
from harness.core.secret import Secret
from harness.io.tls import TlsFiles
from harness.platform.core.defects import DEFECTS
from harness.run.processes import Child
from tests.conftest import seconds


DEFECT_RULES: Final[dict[str, frozenset[str]]] = {
    # WebSocket messages (contract §5): the receiver's rules
    "chunk-global": frozenset({"WS-MEDIA-002"}),
    "numeric-fields": frozenset({"WS-JSON-002"}),
    "payload-size": frozenset({"WS-MEDIA-003"}),
    "media-format": frozenset({"WS-START-001"}),
    "custom-parameters": frozenset({"WS-START-003"}),
    # the receiver has no expectation (dropped) or a forged one (altered):
    # only the join by sid can tell
    "drop-correlation": frozenset({"WS-START-003"}),
    "alter-correlation": frozenset({"WS-START-003"}),
    "extra-parameter": frozenset({"WS-START-003"}),
    "rename-parameter": frozenset({"WS-START-003"}),
    "reorder-parameters": frozenset({"WS-START-003"}),
    # a 1.5x clock is off by more than 60 ms too (the warning)
    "timestamp-fast": frozenset({"WS-MEDIA-005", "WS-MEDIA-006"}),
    "missing-stop": frozenset({"WS-STOP-001"}),
    "seq-skip": frozenset({"WS-SEQ-001"}),
    "timestamp-drift": frozenset({"WS-MEDIA-005"}),
    "wrong-tracks": frozenset({"WS-START-002"}),
    "stream-sid-mismatch": frozenset({"WS-SID-001"}),
    "bearer-missing": frozenset({"WS-HANDSHAKE-001"}),
    "version": frozenset({"WS-CONNECTED-001"}),
    "message-after-stop": frozenset({"WS-STOP-002"}),
    # REST (contract §1-2): the negative suite's valid and invalid requests
    "accept-ws-url": frozenset({"REST-REJECT-001"}),
    "date-format": frozenset({"REST-CREATE-004"}),
    # the stop response carries the extra field too
    "extra-field": frozenset({"REST-CREATE-002", "REST-STOP-002"}),
    "status-stopped": frozenset({"REST-CREATE-007"}),
    "name-not-null": frozenset({"REST-CREATE-006"}),
    "uri-no-json": frozenset({"REST-CREATE-005"}),
    # the answer's sid (dashes dropped) is not start.streamSid either
    "sid-not-uuid": frozenset({"REST-CREATE-003", "WS-START-005"}),
    "content-type-text": frozenset({"REST-CREATE-008"}),
    # status callbacks (contract §4): the callback sink's rules
    "callback-unsigned": frozenset({"CB-004"}),
    "callback-order": frozenset({"CB-001"}),
}
"""Every ``--defect`` switch and exactly the rules it must fail (no other may)."""

CLEAN: Final = {"none": "signalwire", "none-twilio": "twilio"}
"""Platforms without a defect, by dialect: every rule passes."""

API_TOKEN = "defects-api-token-Hx7Qw2"
BEARER = "defects-bearer-token-Pk3Nv8"
SIGNING_KEY = "defects-signing-key-Tz5Lm9"
HOLD_S = 2.0
"""Long enough for seq-skip (one skip per 100 messages: both_tracks sends 100/s)."""


def test_the_table_covers_every_defect_with_known_rules() -> None:
    assert set(DEFECT_RULES) == set(DEFECTS)
    for name, rules in DEFECT_RULES.items():
        assert rules and rules <= set(RULES), name


def _table(root: Path, name: str) -> list[dict[str, object]]:
    parts = sorted((root / "records" / name).glob("*.parquet"))
    if not parts:
        return []
    rows: list[dict[str, object]] = pa.concat_tables(
        [pq.read_table(p) for p in parts]
    ).to_pylist()
    return rows


@pytest.mark.e2e
def test_each_defect_fails_exactly_its_rules(
    tmp_path: Path, tls_files: TlsFiles
) -> None:
    env = {
        "SIGNALWIRE_API_TOKEN": API_TOKEN,
        "STREAMLOAD_BEARER_TOKEN": BEARER,
        "SIGNALWIRE_SIGNING_KEY": SIGNING_KEY,
    }
    tls = [
        "--cert-file",
        str(tls_files.cert_file),
        "--key-file",
        str(tls_files.key_file),
    ]
    logs = tmp_path / "logs"
    receiver = Child(
        "receiver",
        ["-m", "receivers", *tls, "--run-dir", str(tmp_path / "receiver"),
         "--max-duration", "120"],
        log_dir=logs,
        env=env,
    )  # fmt: skip
    sink = Child(
        "callbacks",
        ["-m", "receivers.callbacks", *tls, "--run-dir", str(tmp_path / "callbacks"),
         "--max-duration", "120"],
        log_dir=logs,
        env=env,
    )  # fmt: skip
    platforms: dict[str, Child] = {}
    for name in [*CLEAN, *DEFECT_RULES]:
        argv = ["-m", "harness.platform", *tls, "--ca-file", str(tls_files.ca_file),
                "--validate-certificate", "--run-dir", str(tmp_path / name),
                "--conferences", "1", "--max-duration", "120",
                "--log-level", "WARNING"]  # fmt: skip
        if name in DEFECT_RULES:
            argv += ["--defect", name]
        else:
            argv += ["--dialect", CLEAN[name]]
        platforms[name] = Child(name, argv, log_dir=logs, env=env)
    children = [receiver, sink, *platforms.values()]
    try:
        stream_url = receiver.wait_ready(seconds(30))["url"]
        callback_url = sink.wait_ready(seconds(30))["url"]
        ready = {n: c.wait_ready(seconds(30)) for n, c in platforms.items()}

        def conform(name: str) -> MemorySink:
            rows = MemorySink()
            run_suite(
                Options(
                    api_base=ready[name]["url"],
                    account_sid=ready[name]["account_sid"],
                    conference_sid=ready[name]["conferences"][0],
                    token=Secret(API_TOKEN),
                    ca_file=tls_files.ca_file,
                    stream_url=stream_url,
                    status_callback=callback_url,
                    bearer=Secret(BEARER),
                    hold_s=HOLD_S,
                    run_id=name,
                ),
                rows,
            )
            return rows

        with ThreadPoolExecutor(max_workers=8) as pool:
            suites = dict(zip(platforms, pool.map(conform, platforms), strict=True))
        for child in platforms.values():
            child.send(signal.SIGTERM)  # all at once: each flushes on its own
        for child in platforms.values():
            assert child.stop(seconds(30)) == 0, child.log_path.read_text()[-2000:]
    finally:
        for child in children:
            if child.alive():
                child.stop(seconds(30))

    owner = {
        str(row["stream_sid"]): name
        for name in platforms
        for row in _table(tmp_path / name, "platform_streams")
    }
    owner["handshake"] = "bearer-missing"
    streams = _table(tmp_path / "receiver", "streams")
    requests = [
        dict(zip(columns("requests"), row, strict=True))
        for rows in suites.values()
        for row in rows.rows["requests"]
    ]
    joined = join(
        [
            SentRequest(*(str(r[k]) for k in ("request_id", "stream_sid", "codec",
                                               "track", "params", "correlation")))
            for r in requests
        ],
        [
            ArrivedStream(*(str(r[k]) for k in ("stream_sid", "tracks", "media_format",
                                                "params", "correlation")))
            for r in streams
        ],
    )  # fmt: skip
    # every received stream meets its request (by sid, or where the create
    # answer's sid is not start.streamSid, sid-not-uuid, by request id), but
    # where no stream came (bearer-missing)
    unjoined = {"bearer-missing"}
    assert {owner[c.subject] for c in joined.checkers} == set(platforms) - unjoined
    evidence: dict[str, str] = {}  # each names the parameter changed
    for c in joined.checkers:
        for v in c.violations:
            if v.rule == "WS-START-003":
                evidence[owner[c.subject]] = (
                    f"{evidence.get(owner[c.subject])}; {v.actual}"
                )
    assert "lost 'streamload'" in evidence["drop-correlation"]
    assert "altered the value of 'streamload'" in evidence["alter-correlation"]
    assert "added 'streamload-extra'" in evidence["extra-parameter"]
    assert "renamed 'p1' (Parameter1) to 'p1-renamed'" in evidence["rename-parameter"]
    assert "reordered 'p2'" in evidence["reorder-parameters"]
    assert "altered the value of 'p1'" in evidence["custom-parameters"]
    failed: dict[str, set[str]] = {name: set() for name in platforms}
    unowned: list[dict[str, object]] = []
    for checker in joined.checkers:
        for rule, count in checker.counts.items():
            if count.failures:
                failed[owner[checker.subject]].add(rule)
    for source in ("receiver", "callbacks"):
        for row in _table(tmp_path / source, "rule_checks"):
            if (str(row["subject"]), str(row["rule"])) in joined.superseded:
                continue  # the join judged it against the request itself
            if int(str(row["failures"])):
                defect = owner.get(str(row["subject"]))
                if defect is None:
                    unowned.append(row)
                else:
                    failed[defect].add(str(row["rule"]))
    for name, rows in suites.items():
        for check in rows.rows["rule_checks"]:
            if int(str(check[4])):
                failed[name].add(str(check[2]))

    assert unowned == []
    assert len(streams) >= 2 * (len(platforms) - 1)  # bearer-missing's are refused
    assert len(_table(tmp_path / "callbacks", "callbacks")) >= 2 * len(platforms)
    expected = {name: set(DEFECT_RULES.get(name, ())) for name in platforms}
    assert failed == expected
    # no secret reached a record or a log
    for path in tmp_path.rglob("*"):
        if path.is_file() and path.suffix in (".parquet", ".log"):
            data = path.read_bytes()
            for secret in (API_TOKEN, BEARER, SIGNING_KEY):
                assert secret.encode() not in data, (path, secret)
