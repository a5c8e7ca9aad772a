"""reports.accounting: every stream started is seen, and seen to stop."""

from __future__ import annotations

from pathlib import Path

from reports.accounting import account
from reports.load import load_run
from tests.reports.helpers import RunBuilder


def test_a_clean_run_accounts_for_everything(tmp_path: Path) -> None:
    build = RunBuilder(tmp_path)
    build.good_stream("MZ1", "req-1")
    build.good_stream("MZ2", "req-2")
    acc = account(load_run(build.write()))

    assert acc == {
        "requests_started_ok": 2,
        "streams_platform": 2,
        "streams_received": 2,
        "streams_stopped": 2,
        "streams_unmatched": 0,
        "frames_sent": 100,
        "frames_received": 100,
        "never_arrived": 0,
        "without_stop": 0,
        "unaccounted": 0,
        "unaccounted_examples": [],
    }


def test_streams_that_never_arrived_or_never_stopped(tmp_path: Path) -> None:
    build = RunBuilder(tmp_path)
    build.good_stream("MZ1", "req-1")
    build.request("req-2", stream_sid="MZ2")  # 200, but no receiver saw it
    build.request("req-3", stream_sid="MZ3")
    build.stream("MZ3", "req-3", stop_ns=0)  # started, no stop
    build.request("req-4", status=500)  # failed: not expected anywhere
    build.stream("MZ9", "req-other")  # arrived, matches no request
    acc = account(load_run(build.write()))

    assert acc["requests_started_ok"] == 3
    assert (acc["never_arrived"], acc["without_stop"], acc["unaccounted"]) == (1, 1, 2)
    assert acc["streams_unmatched"] == 1
    assert acc["unaccounted_examples"] == [
        {
            "stream_sid": "MZ2",
            "request_id": "req-2",
            "reason": "start request got 200; no receiver saw the stream",
        },
        {
            "stream_sid": "MZ3",
            "request_id": "req-3",
            "reason": "the stream started but no stop message arrived",
        },
    ]


def test_a_stream_is_matched_by_sid_when_the_request_id_did_not_come_back(
    tmp_path: Path,
) -> None:
    build = RunBuilder(tmp_path)
    build.request("req-1", stream_sid="MZ1")
    build.stream("MZ1", "")
    acc = account(load_run(build.write()))

    assert (acc["never_arrived"], acc["streams_unmatched"]) == (0, 0)


def test_frames_sent_falls_back_to_the_platform_counts_then_unknown(
    tmp_path: Path,
) -> None:
    build = RunBuilder(tmp_path / "platform")
    build.platform_stream("MZ1", "req-1", frames_sent=42)
    assert account(load_run(build.write()))["frames_sent"] == 42

    build = RunBuilder(tmp_path / "real")
    build.stream("MZ1", "req-1")
    acc = account(load_run(build.write()))
    assert (acc["frames_sent"], acc["streams_unmatched"]) == (None, None)
