"""reports.partition: the pass that cuts the per-frame tables into pieces by track."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from reports.load import find_parts, load_run
from reports.partition import Limits, Pieces
from tests.reports.helpers import MS, T0, RunBuilder


def two_streams(root: Path, *, batch_rows: int = 50_000) -> RunBuilder:
    """MZ1 on two tracks and MZ2 on one, interleaved in arrival order, in small parts."""
    build = RunBuilder(root, batch_rows=batch_rows)
    for chunk in range(1, 21):
        at = T0 + chunk * 20 * MS
        for sid, track in (("MZ1", "inbound"), ("MZ1", "outbound"), ("MZ2", "inbound")):
            build.sent(sid, track, chunk, at)
            if chunk != 7:
                build.frame(sid, track, chunk, at + MS)
    return build


Row = tuple[str, str, int, int]


def rows(pieces: Pieces) -> dict[str, list[tuple[int, Row]]]:
    """Every row as (piece, (sid, track, chunk, time)), piece by piece."""
    sids, names = list(pieces.sids), list(pieces.track_names)
    sid_of, name_of = pieces.track_sid(), pieces.track_name()
    out: dict[str, list[tuple[int, Row]]] = {"frames": [], "sent": []}
    for number in range(pieces.count):
        piece = pieces.piece(number)
        for table, time in (("frames", "arrival_ns"), ("sent", "sent_ns")):
            columns = getattr(piece, table)
            for track, chunk, at in zip(
                columns["track"], columns["chunk"], columns[time], strict=True
            ):
                row = (sids[sid_of[track]], names[name_of[track]], int(chunk), int(at))
                out[table].append((number, row))
    return out


def table_rows(root: Path, table: str) -> list[Row]:
    """The table's rows as (sid, track, chunk, time), parts in name order."""
    time = "arrival_ns" if table == "frames" else "sent_ns"
    name = "frames" if table == "frames" else "sent_frames"
    data = pa.concat_tables(pq.read_table(p) for p in find_parts(root, name))
    return list(
        zip(
            data["stream_sid"].to_pylist(),
            data["track"].to_pylist(),
            data["chunk"].to_pylist(),
            data[time].to_pylist(),
            strict=True,
        )
    )


@pytest.mark.parametrize("piece_rows", [1, 7, 40, 10_000])
def test_each_track_lands_whole_in_one_piece_in_table_order(
    tmp_path: Path, piece_rows: int
) -> None:
    root = two_streams(tmp_path, batch_rows=13).write()
    run = load_run(root)
    seen: list[tuple[str, dict[str, Any]]] = []
    with Pieces(run.frames, run.sent_frames, piece_rows) as pieces:
        pieces.read(lambda table, columns: seen.append((table, columns)))
        expected_count = -(-(len(run.frames) + len(run.sent_frames)) // piece_rows)
        assert pieces.count == expected_count
        assert pieces.rows == {"frames": 57, "sent": 60}
        assert len(pieces.tracks) == 3
        taken = rows(pieces)
        for table in ("frames", "sent"):
            got = [row for _, row in taken[table]]
            want = table_rows(root, table)
            assert sorted(got) == sorted(want)
            for key in {(s, t) for s, t, _, _ in want}:
                # a track's rows: all in one piece, in table order
                assert len({n for n, row in taken[table] if row[:2] == key}) == 1
                assert [r for r in got if r[:2] == key] == [
                    r for r in want if r[:2] == key
                ]
    assert {t for t, _ in seen} == {"frames", "sent"}
    assert sum(len(c["chunk"]) for t, c in seen if t == "frames") == 57


def test_a_small_run_is_one_piece_and_never_spilled(tmp_path: Path) -> None:
    run = load_run(two_streams(tmp_path).write())
    with Pieces(run.frames, run.sent_frames, 10_000) as pieces:
        pieces.read(lambda *_: None)
        assert pieces.count == 1 and pieces._dir is None
        piece = pieces.piece(0)
    assert piece.frames["chunk"].dtype == np.int64
    assert len(piece.frames["chunk"]) == 57 and len(piece.sent["sent_ns"]) == 60


def test_the_spill_files_go_away(tmp_path: Path) -> None:
    run = load_run(two_streams(tmp_path).write())
    with Pieces(run.frames, run.sent_frames, 2) as pieces:
        pieces.read(lambda *_: None)
        assert pieces._dir is not None
        directory = Path(pieces._dir.name)
        assert any(directory.iterdir())
    assert not directory.exists()


def test_chunks_beyond_32_bits_are_kept_whole(tmp_path: Path) -> None:
    build = RunBuilder(tmp_path)
    build.frame("MZ1", "inbound", 2**40, T0)
    build.frame("MZ1", "inbound", 1, T0 + MS)
    run = load_run(build.write())
    with Pieces(run.frames, run.sent_frames, 1) as pieces:
        pieces.read(lambda *_: None)
        assert pieces._chunk is np.int64
        assert sorted(r[2] for _, r in rows(pieces)["frames"]) == [1, 2**40]


def test_missing_sids_and_tracks_code_as_empty(tmp_path: Path) -> None:
    directory = tmp_path / "records" / "frames"
    directory.mkdir(parents=True)
    table = pa.table(
        {
            "stream_sid": pa.array(["MZ1", None], pa.string()),
            "track": pa.array([None, "inbound"], pa.string()),
            "chunk": pa.array([1, 2], pa.int64()),
            "arrival_ns": pa.array([T0, T0 + MS], pa.int64()),
        }
    )
    pq.write_table(table, directory / "old-000001.parquet")
    run = load_run(tmp_path)
    with Pieces(run.frames, run.sent_frames, 100) as pieces:
        pieces.read(lambda *_: None)
        assert sorted(r for _, r in rows(pieces)["frames"]) == [
            ("", "inbound", 2, T0 + MS),
            ("MZ1", "", 1, T0),
        ]


def test_limits_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Limits.from_env() == Limits()
    monkeypatch.setenv("STREAMLOAD_REPORT_PIECE_ROWS", "5")
    monkeypatch.setenv("STREAMLOAD_REPORT_SAMPLE_BYTES", " 64 ")
    assert Limits.from_env() == Limits(piece_rows=5, sample_bytes=64)
