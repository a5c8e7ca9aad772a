"""reports.rest: request counts, errors and latency by kind and codec."""

from __future__ import annotations

from pathlib import Path

from reports.load import load_run
from reports.rest import summarise_requests
from tests.reports.helpers import MS, T0, RunBuilder


def test_errors_statuses_and_latency_by_kind(tmp_path: Path) -> None:
    build = RunBuilder(tmp_path)
    build.request("req-1", due_ns=T0, sent_ns=T0, done_ns=T0 + 10 * MS)
    build.request("req-2", due_ns=T0, sent_ns=T0 + 5 * MS, done_ns=T0 + 25 * MS)
    build.request("req-3", status=0, done_ns=0, error="timed out")
    build.request("req-4", codec="PCMA", status=400, error="StreamCodec: bad")
    build.request("stop-1", kind="stop", status=404, error="not found")
    requests = summarise_requests(load_run(build.write()).requests)

    assert (requests["count"], requests["errors"], requests["error_ratio"]) == (
        5,
        3,
        0.6,
    )
    start = requests["by_kind"]["start"]
    assert start["statuses"] == {"0": 1, "200": 2, "400": 1}
    assert (start["count"], start["errors"]) == (4, 2)
    # done - sent over answered requests: 10, 20, 10 ms
    assert start["latency_ms"]["count"] == 3
    assert (start["latency_ms"]["p50"], start["latency_ms"]["max"]) == (10.0, 20.0)
    # done - due: 10, 25, 10 ms; the 5 ms the driver was late shows here only
    assert start["from_due_ms"]["max"] == 25.0
    assert requests["by_kind"]["stop"]["errors"] == 1
    assert requests["by_codec"]["PCMA"]["error_ratio"] == 1.0
    assert requests["by_codec"]["PCMU"]["error_ratio"] == round(1 / 3, 6)
    assert requests["top_errors"] == [
        {"error": "StreamCodec: bad", "count": 1},
        {"error": "not found", "count": 1},
        {"error": "timed out", "count": 1},
    ]


def test_no_requests(tmp_path: Path) -> None:
    build = RunBuilder(tmp_path)
    build.frame("MZ1", "inbound", 1, T0)
    requests = summarise_requests(load_run(build.write()).requests)

    assert (requests["count"], requests["errors"], requests["error_ratio"]) == (
        0,
        0,
        None,
    )
    assert requests["by_kind"] == {}
    assert requests["latency_ms"]["count"] == 0
