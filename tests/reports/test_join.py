"""reports.join: the report judges streams against their requests by sid.

Real run directories (Parquet parts through the producers' sink), read back by
:func:`reports.load.load_run`, summarised by :func:`reports.summary.build_summary`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.core.correlation import PARAM_NAME, Expectation, digest, fingerprint
from harness.core.rules import Checker
from reports.join import joined_checks
from reports.load import load_run
from tests.reports.helpers import RunBuilder, build_summary


PARAMS = [("FirstName", "Jane"), ("LastName", "Doe")]


def _sent(request_id: str, codec: str = "PCMU") -> tuple[str, str]:
    exp = Expectation("run-1", request_id, codec, "inbound_track", 2, digest(PARAMS))
    return fingerprint([*PARAMS, (PARAM_NAME, "")]), exp.encode()


def _stream(
    build: RunBuilder,
    sid: str,
    request_id: str,
    arrived: list[tuple[str, str]],
    *,
    media_format: str = "audio/x-mulaw;8000;1",
    codec: str = "PCMU",
    receiver_checks: bool = True,
) -> None:
    """A start request answered with ``sid`` and the stream that arrived with
    ``arrived`` as its customParameters; the receiver's own live checks too."""
    params, correlation = _sent(request_id)
    build.request(
        request_id,
        stream_sid=sid,
        params=params,
        correlation=correlation,
    )
    build.platform_stream(sid, request_id, frames_sent=50)
    values = dict(arrived)
    build.stream(
        sid,
        request_id if values.get(PARAM_NAME) == correlation else "",
        codec=codec,
        announced=(
            "inbound",
            media_format,
            fingerprint(arrived),
            values.get(PARAM_NAME, ""),
        ),
    )
    build.media(sid, chunks=50)
    if receiver_checks:
        checker = Checker(sid)
        for rule in ("WS-START-001", "WS-START-002", "WS-MEDIA-003"):
            checker.check(rule, True)
        if PARAM_NAME in values:  # the receiver judges WS-START-003 only then
            checker.check("WS-START-003", True)
        build.checker(checker)


def _result(summary: dict[str, Any], rule: str) -> dict[str, Any]:
    result: dict[str, Any] = summary["conformance"]["results"][rule]
    return result


def test_a_dropped_correlation_parameter_fails_start_003_in_the_report(
    tmp_path: Path,
) -> None:
    build = RunBuilder(tmp_path)
    _, corr = _sent("req-1")
    _stream(build, "sid-1", "req-1", [*PARAMS, (PARAM_NAME, corr)])
    _stream(build, "sid-2", "req-2", list(PARAMS))  # streamload's lost
    summary = build_summary(load_run(build.write()))
    start3 = _result(summary, "WS-START-003")
    assert (start3["verdict"], start3["checks"], start3["failures"]) == ("fail", 2, 1)
    assert start3["sources"] == ["join"]
    (evidence,) = start3["evidence"]
    assert evidence["subject"] == "sid-2"
    assert evidence["actual"] == f"lost '{PARAM_NAME}' (Parameter3)"
    assert "request req-2" in evidence["expected"]
    # the join's verdicts replace the receiver's: each stream counted once
    assert _result(summary, "WS-START-001")["checks"] == 2
    assert _result(summary, "WS-START-001")["sources"] == ["join"]
    assert summary["verdict"] == "fail"


def test_an_altered_correlation_value_cannot_fool_the_report(tmp_path: Path) -> None:
    build = RunBuilder(tmp_path)
    _, corr = _sent("req-1")
    forged = corr.replace("req=req-1", "req=req-7")
    _stream(build, "sid-1", "req-1", [*PARAMS, (PARAM_NAME, forged)])
    summary = build_summary(load_run(build.write()))
    start3 = _result(summary, "WS-START-003")
    assert start3["failures"] == 1
    assert start3["evidence"][0]["actual"] == (
        f"altered the value of '{PARAM_NAME}' (Parameter3)"
    )


def test_a_reordered_or_renamed_parameter_is_named(tmp_path: Path) -> None:
    build = RunBuilder(tmp_path)
    _, corr1 = _sent("req-1")
    _, corr2 = _sent("req-2")
    _stream(build, "sid-1", "req-1", [PARAMS[1], PARAMS[0], (PARAM_NAME, corr1)])
    _stream(build, "sid-2", "req-2", [("First", "Jane"), PARAMS[1], (PARAM_NAME, corr2)])  # fmt: skip
    summary = build_summary(load_run(build.write()))
    actual = {e["subject"]: e["actual"] for e in _result(summary, "WS-START-003")["evidence"]}  # fmt: skip
    assert actual == {
        "sid-1": "reordered 'LastName' (sent as Parameter2, arrived 1st); "
        "reordered 'FirstName' (sent as Parameter1, arrived 2nd)",
        "sid-2": "renamed 'FirstName' (Parameter1) to 'First'",
    }


def test_a_wrong_codec_behind_a_lost_correlation_is_judged_on_the_frames(
    tmp_path: Path,
) -> None:
    """The request asked for L16@16000h; the platform dropped streamload's and
    sent PCMU, announced as PCMU: the receiver found nothing wrong."""
    build = RunBuilder(tmp_path)
    params, corr = (
        fingerprint([*PARAMS, (PARAM_NAME, "")]),
        Expectation(
            "run-1", "req-1", "L16@16000h", "inbound_track", 2, digest(PARAMS)
        ).encode(),
    )
    build.request("req-1", stream_sid="sid-1", codec="L16@16000h", params=params, correlation=corr)  # fmt: skip
    build.stream("sid-1", "", announced=("inbound", "audio/x-mulaw;8000;1", fingerprint(PARAMS), ""))  # fmt: skip
    build.media("sid-1", chunks=20)  # 160-byte frames
    checker = Checker("sid-1")
    checker.passes("WS-MEDIA-003", 20)
    build.checker(checker)
    run = load_run(build.write())
    checks, _ = joined_checks(run)
    media = checks[checks["rule"].astype(str) == "WS-MEDIA-003"]
    assert media[["source", "checks", "failures"]].values.tolist() == [["join", 20, 20]]
    summary = build_summary(run)
    failed = {r for r, v in summary["conformance"]["results"].items() if v["verdict"] == "fail"}  # fmt: skip
    assert failed == {"WS-START-001", "WS-START-003", "WS-MEDIA-003"}
    assert "20 frames of 160 bytes" in _result(summary, "WS-MEDIA-003")["evidence"][0]["actual"]  # fmt: skip


def test_runs_without_recorded_parameters_keep_the_receivers_verdicts(
    tmp_path: Path,
) -> None:
    build = RunBuilder(tmp_path)
    build.good_stream("sid-1", "req-1")  # records of an older scenario: no params
    checker = Checker("sid-1")
    checker.check("WS-START-003", True)
    build.checker(checker)
    run = load_run(build.write())
    checks, violations = joined_checks(run)
    assert checks is run.rule_checks and violations is run.violations
