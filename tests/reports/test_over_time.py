"""reports.over_time: streams live, failures and harness health from real records."""

from __future__ import annotations

from pathlib import Path

from reports import over_time
from reports.load import load_run
from tests.reports.helpers import MS, T0, RunBuilder


S = 1000 * MS


def test_streams_live_steps_up_and_down_at_start_and_stop(tmp_path: Path) -> None:
    build = RunBuilder(tmp_path)
    build.request("req-1", stream_sid="MZ1")
    build.stream("MZ1", "req-1", start_ns=T0 + 1 * S, stop_ns=T0 + 5 * S)
    build.stream("MZ2", "req-2", start_ns=T0 + 2 * S, stop_ns=T0 + 3 * S)
    # no stop: live until its socket closed
    build.stream("MZ3", "req-3", start_ns=T0 + 2 * S, stop_ns=0, closed_ns=T0 + 4 * S)
    run = load_run(build.write())
    origin = over_time.origin_ns(run, None)
    assert origin == T0
    xs, ys = over_time.streams_live(run, origin)
    assert list(zip(xs, ys, strict=True)) == [
        (0.0, 0.0), (1.0, 1.0), (2.0, 2.0), (2.0, 3.0), (3.0, 2.0), (4.0, 1.0),
        (5.0, 0.0),
    ]  # fmt: skip


def test_failures_are_counted_per_bin_by_kind(tmp_path: Path) -> None:
    build = RunBuilder(tmp_path)
    build.request("req-1", sent_ns=T0)
    for i, at in enumerate((T0 + S // 2, T0 + 3 * S, T0 + 3 * S + MS)):
        build.request(f"bad-{i}", sent_ns=at, status=503)
    build.request("stop-1", kind="stop", sent_ns=T0 + 4 * S, status=0)
    build.receiver.add(
        "violations", ("receiver", "WS-SEQ-001", "MZ1", 3, "4", "5", T0 + 2 * S)
    )
    run = load_run(build.write())
    width, kinds = over_time.errors(run, T0, end_s=5.0)
    assert width == 0.5
    assert sum(kinds["failed start requests"][1]) == 3
    starts, counts = kinds["failed start requests"]
    assert counts[starts.index(3.0)] == 2 and counts[starts.index(0.5)] == 1
    assert sum(kinds["failed stop requests"][1]) == 1
    assert sum(kinds["rule violations (evidence rows)"][1]) == 1


def test_nothing_failed_nothing_to_draw(tmp_path: Path) -> None:
    build = RunBuilder(tmp_path)
    build.good_stream("MZ1", "req-1")
    assert over_time.errors(load_run(build.write()), T0, 10.0)[1] == {}


def test_harness_health_per_producer_cut_to_600_points(tmp_path: Path) -> None:
    build = RunBuilder(tmp_path)
    for s in range(1, 1201):
        lag_ns = 50 * MS if s == 700 else MS
        build.receiver.add(
            "health",
            ("receiver-0", "receiver", T0 + s * S, S, S // 2, S // 4, 10, lag_ns, lag_ns,
             0, 0, 0, 1),
        )  # fmt: skip
    run = load_run(build.write())
    xs, cpu, lag = over_time.harness(run.health, T0)["receiver-0"]
    assert len(xs) == len(cpu) == len(lag) == 600
    assert xs[0] == 1.0 and set(cpu) == {0.25}
    assert max(lag) == 50.0  # the one slow second survives the cut
