"""harness.platform.sendlog: one record per chunk comes out as the rows a tuple per frame
would have been, in order; the recorder bounds and writes it like any hot buffer."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings, strategies as st

from harness.core.records import TABLES
from harness.core.sender import Sender, SentRow, WireDefects, with_wire
from harness.io.recorder import Recorder
from harness.io.sink import RecordSink
from harness.platform.core.dialect import DIALECTS
from harness.platform.sendlog import SendLog
from tests.harness.platform.support import make_stream, run


def twins(track: str, defects: WireDefects | None = None) -> tuple[Sender, Sender]:
    """Two senders of one stream (Twilio: the stream sid in every message too)."""
    stream = make_stream(track=track, codec="PCMU")
    return tuple(  # type: ignore[return-value]
        Sender(
            stream.sid,
            stream.call_sid,
            "AC0",
            stream.request,
            DIALECTS["twilio"],
            defects=defects or WireDefects(),
        )
        for _ in range(2)
    )


def as_rows(columns: Any) -> list[tuple[object, ...]]:
    """Columns (Arrow or numpy) back into row tuples, through the table's schema."""
    names = [name for name, _ in TABLES["sent_frames"]]
    table = pa.table(
        {
            n: c if isinstance(c, pa.Array) else pa.array(c)
            for n, c in zip(names, columns, strict=True)
        }
    )
    return [tuple(r.values()) for r in table.to_pylist()]


# One step of the property: (stream index, due_ns, lateness, whether the chunk
# goes in as rows (the emulated network's path) with a wire time).
steps = st.lists(
    st.tuples(
        st.integers(0, 3),
        st.integers(0, 2**62),
        st.integers(0, 10**9),
        st.none() | st.integers(0, 2**62),
    ),
    max_size=60,
)


@settings(max_examples=60, deadline=None)
@given(
    tracks=st.lists(
        st.sampled_from(["inbound_track", "both_tracks"]), min_size=4, max_size=4
    ),
    plan=steps,
)
def test_chunk_records_expand_to_the_rows_media_builds(
    tracks: list[str], plan: list[tuple[int, int, int, int | None]]
) -> None:
    """Per chunk, :meth:`SendLog.chunk` (or :meth:`SendLog.add` of a row) gives
    exactly the rows :meth:`Sender.media` builds for the same chunk, in send order."""
    pairs = [twins(t) for t in tracks]  # each stream twice: packed, and as rows
    packed = [a for a, _ in pairs]
    reference = [b for _, b in pairs]
    log = SendLog()
    expected: list[SentRow] = []
    for index, due, late, wire in plan:
        rows = [row for _, row in reference[index].media(due, due + late)]
        s = packed[index]
        if wire is None:
            seq = s.seq + 1
            messages = s.media_wire()
            key = log.key(s.sid, s.track_names)
            log.chunk(key, len(messages), s.chunk, seq, due, due + late, s.frame_bytes)
            expected += rows
        else:  # rows one by one, with a wire time: the emulated network's path
            s.media(due, due + late)
            for row in rows:
                log.add(with_wire(row, wire))
                expected.append(with_wire(row, wire))
    assert len(log) == len(expected)
    assert as_rows(log.columns()) == expected


def test_media_wire_is_the_messages_media_builds_encoded() -> None:
    a, b = twins("both_tracks")
    for _ in range(60):  # past the 50-frame test-signal cycle
        assert a.media_wire() == [m.encode() for m, _ in b.media(0, 0)]
    assert (a.seq, a.chunk) == (b.seq, b.chunk)
    assert a.packable
    assert not twins("inbound_track", WireDefects(seq_skip=True))[0].packable


def test_a_row_with_an_out_of_range_number_is_dropped_alone(
    caplog: pytest.LogCaptureFixture,
) -> None:
    log = SendLog()
    caplog.set_level(logging.WARNING)
    log.add(("s", "inbound", 1, 2, 3, 4, 160, 4))
    log.add(("s", "inbound", 2**64, 2, 3, 4, 160, 4))
    log.add(("s", "inbound", 3, 4, 5, 6, 160, 6))
    assert len(log) == 2
    assert [r[2] for r in as_rows(log.columns())] == [1, 3]
    assert "dropped a sent_frames row" in caplog.text


def test_an_empty_window_has_empty_columns_and_only_holds_sent_frames() -> None:
    assert as_rows(SendLog().columns()) == []
    with pytest.raises(ValueError, match="sent_frames"):
        SendLog("frames")


def read(run_dir: Path) -> list[tuple[object, ...]]:
    files = sorted((run_dir / "records" / "sent_frames").glob("*.parquet"))
    return [tuple(r.values()) for f in files for r in pq.read_table(f).to_pylist()]


def test_the_recorder_writes_a_send_log_per_window_and_drops_beyond_its_bound(
    tmp_path: Path,
) -> None:
    """Records written straight into :attr:`Recorder.buffer` are written like rows,
    counted in the backlog, and counted exactly when the bound drops them."""

    async def main() -> Recorder:
        recorder = Recorder(
            RecordSink(tmp_path, "p", "platform"),
            "sent_frames",
            buffer=SendLog,
            max_rows=6,
        )
        log = recorder.buffer
        assert isinstance(log, SendLog)
        key = log.key("s1", ("inbound", "outbound"))
        log.chunk(key, 2, 1, 2, 10, 11, 160)
        recorder.add("sent_frames", ("s2", "inbound", 1, 2, 15, 16, 640, 0))
        assert recorder.backlog == 3
        await recorder.flush()
        assert recorder.buffer is not log  # a new window
        log = recorder.buffer
        assert isinstance(log, SendLog)
        key = log.key("s1", ("inbound", "outbound"))
        for chunk in range(2, 6):  # 8 rows: over the bound of 6
            log.chunk(key, 2, chunk, 2 * chunk, 10 * chunk, 10 * chunk + 1, 160)
        recorder.check()  # now dropping: the buffer is a spill
        spill = recorder.buffer
        assert spill is not log and isinstance(spill, SendLog)
        spill.chunk(spill.key("s1", ("inbound", "outbound")), 2, 6, 12, 60, 61, 160)
        recorder.add("sent_frames", ("s2", "inbound", 2, 3, 35, 36, 640, 0))
        await recorder.close()
        return recorder

    recorder = run(main())
    rows = read(tmp_path)
    assert rows[:3] == [
        ("s1", "inbound", 1, 2, 10, 11, 160, 11),
        ("s1", "outbound", 1, 3, 10, 11, 160, 11),
        ("s2", "inbound", 1, 2, 15, 16, 640, 0),
    ]
    assert [r[2:4] for r in rows[3:]] == [
        (c, 2 * c + t) for c in range(2, 6) for t in (0, 1)
    ]
    assert recorder.loss.dropped == {"sent_frames": 3}  # the spilled chunk and the row
