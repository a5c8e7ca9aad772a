"""The across-machines flags of ``streamload run`` and the join of remote records.

The run itself, over seven network namespaces, is tests/e2e/test_scaleout.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.run.cli import main
from harness.run.scaleout import (
    PERIODIC_TABLES,
    WORKERS_WAIT_S,
    ScaleOut,
    copy_parts,
    locust_master_args,
    settled_parts,
)


def _part(root: Path, table: str, name: str, data: bytes = b"x") -> Path:
    path = root / "records" / table / f"{name}.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--remote-receivers"], "--remote-receivers: needs the URL"),
        (
            [
                "--remote-receivers",
                "--receiver-url",
                "wss://127.0.0.1:9/stream",
                "--receiver-listen",
                "127.0.0.1:0",
            ],
            "--remote-receivers: starts no receiver here",
        ),
        (["--workers-listen", "127.0.0.1:0"], "--workers-listen: port 0"),
        (
            ["--workers-listen", "nowhere"],
            "--workers-listen: 'nowhere' is not HOST:PORT",
        ),
        (["--join-records", "/nonexistent/dir"], "--join-records: '/nonexistent/dir'"),
    ],
)
def test_each_mistake_is_refused_before_anything_starts(
    args: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    assert main(["run", "--out", str(out), *args]) == 2
    assert message in capsys.readouterr().err
    assert not (out / "records").exists()


def test_the_master_waits_for_its_workers_where_it_was_told() -> None:
    scale = ScaleOut(workers_listen=("198.18.0.7", 5557))
    assert locust_master_args(scale, 3) == [
        "--master",
        "--expect-workers",
        "3",
        "--expect-workers-max-wait",
        str(WORKERS_WAIT_S),
        "--master-bind-host",
        "198.18.0.7",
        "--master-bind-port",
        "5557",
    ]


class _Clock:
    """A fake clock: each sleep advances it, and may drop a new part in."""

    def __init__(self, arrivals: dict[int, tuple[Path, str, str]]) -> None:
        self.now = 0.0
        self.sleeps = 0
        self.arrivals = arrivals

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps += 1
        self.now += seconds
        if self.sleeps in self.arrivals:
            _part(*self.arrivals[self.sleeps])


def test_records_settle_once_no_new_part_appears_but_periodic_ones(
    tmp_path: Path,
) -> None:
    rx = tmp_path / "rx"
    _part(rx, "frames", "rx1-000001")
    clock = _Clock(
        {
            1: (rx, "frames", "rx1-000002"),  # a late flush: wait again
            2: (rx, "health", "rx1-000003"),  # periodic: does not hold the join
            3: (rx, "histograms", "rx1-000004"),
        }
    )
    found = settled_parts([rx], quiet_s=2, wait_s=30, sleep=clock.sleep, clock=clock)
    assert clock.sleeps == 2
    assert {p.name for p in found[rx]} == {
        "rx1-000001.parquet",
        "rx1-000002.parquet",
        "rx1-000003.parquet",
    }
    assert PERIODIC_TABLES == {"health", "histograms"}


def test_a_source_that_never_settles_is_taken_at_the_deadline(tmp_path: Path) -> None:
    rx = tmp_path / "rx"
    clock = _Clock({i: (rx, "frames", f"rx1-{i:06d}") for i in range(1, 100)})
    found = settled_parts([rx], quiet_s=2, wait_s=10, sleep=clock.sleep, clock=clock)
    assert clock.now == 10 and len(found[rx]) == 5


def test_parts_and_manifests_are_copied_and_a_name_clash_is_not_overwritten(
    tmp_path: Path,
) -> None:
    out = tmp_path / "run"
    rx = tmp_path / "rx"
    parts = [_part(rx, "frames", "rx1-000001"), _part(rx, "streams", "rx1-000002")]
    (rx / "producers").mkdir()
    (rx / "producers" / "rx1.json").write_text('{"complete": true}\n')
    mine = _part(out, "frames", "receiver-0-000001", b"mine")
    clash = _part(tmp_path / "other", "frames", "receiver-0-000001", b"theirs")
    same = _part(tmp_path / "again", "streams", "rx1-000002")

    joined = copy_parts(parts, out)
    assert (joined.copied, joined.collided, joined.failed) == (2, [], [])
    assert (out / "records" / "frames" / "rx1-000001.parquet").read_bytes() == b"x"
    assert (out / "producers" / "rx1.json").exists()

    again = copy_parts([same, clash], out)  # same bytes: skipped; other bytes: clash
    assert (again.copied, again.collided) == (0, [str(clash)])
    assert mine.read_bytes() == b"mine"
