"""A stream paced through its lane sends and logs what the streamer's own ``tick`` does
(harness/platform/lane.py).

The lane's bucket pass and :meth:`Streamer.tick` are two implementations of one
chunk; ``tick`` (every case: pauses, stalls, failures) is the reference. Each
test drives one stream through both, step by step as the ticker would, with the
same events, and requires the same bytes on the wire, the same send-log rows on
disk, the same counters and the same end.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings as hsettings, strategies as st

from harness.core.api import TRACK_MEDIA
from harness.core.codecs import FRAME_NS
from harness.io.recorder import Recorder
from harness.io.sink import RecordSink
from harness.io.tls import client_context
from harness.platform.core.dialect import DIALECTS
from harness.platform.core.state import Stream
from harness.platform.lane import Lane, run_bucket
from harness.platform.sendlog import SendLog
from harness.platform.streamer import Counters, Streamer, StreamerSettings
from harness.platform.ticker import Job
from harness.platform.wsclient import WsClient
from tests.harness.platform.support import make_stream, run


STALL_S = 0.1
"""A buffer full for longer than this (5 chunks) ends the stream."""


class _Capture:
    """An open, draining connection that keeps what it is given (a stand-in:
    this compares two code paths' output; tests/harness/platform/test_streamer.py
    sends for real). ``fail_at``: the send that raises, by its index."""

    def __init__(self) -> None:
        self.sent: list[str | bytes] = []
        self.open = True
        self.paused = False
        self.buffered = 0
        self.fail_at = -1
        self.lane: Lane | None = None

    # the client's own code: a pause sends the lane to ``tick``
    # (tests/harness/platform/test_wsclient.py checks it on a real connection)
    def pause_writing(self) -> None:
        WsClient.pause_writing(self)  # type: ignore[arg-type]

    def resume_writing(self) -> None:
        WsClient.resume_writing(self)  # type: ignore[arg-type]

    def _lane_off(self) -> None:
        WsClient._lane_off(self)  # type: ignore[arg-type]

    def send_text(self, message: str | bytes) -> None:
        self.send_frame(None, message)

    def send_frame(self, kind: object, message: str | bytes) -> None:
        if len(self.sent) == self.fail_at:
            raise ConnectionResetError("the peer reset the connection")
        self.sent.append(message)


def _drive(
    root: Path, stream: Stream, dialect: str, steps: list[str], lane: bool
) -> dict[str, Any]:
    """Pace ``stream`` through ``steps`` (one per chunk's bucket) as the ticker
    does: through its lane and the bucket pass, or through ``tick`` alone."""
    track = stream.request.effective_track

    async def main() -> dict[str, Any]:
        recorder = Recorder(
            RecordSink(root, "t", "platform"), "sent_frames", buffer=SendLog
        )
        counters = Counters()
        cfg = StreamerSettings(
            account_sid="AC0",
            ssl=client_context(None, verify=False),
            dialect=DIALECTS[dialect],
            stall_timeout_s=STALL_S,
        )
        streamer = Streamer(stream, cfg, recorder, counters)
        capture = _Capture()
        streamer._ws = capture  # type: ignore[assignment]
        streamer._live = True
        due = 1_000 * FRAME_NS
        streamer.first_due_ns = streamer._next_due = due
        job: Job = streamer
        if lane:
            job = streamer._lane = Lane(
                streamer,
                capture,  # type: ignore[arg-type]
                streamer.sender,
                recorder,
                counters,
                due,
            )
        ended = -1
        fast = 0
        for i, step in enumerate(steps):
            if step == "pause":
                capture.pause_writing()
            elif step == "resume":
                capture.resume_writing()
            elif step == "window":
                recorder.hand_off(force=True)  # a new send-log window
            elif step == "fail":  # the chunk's last frame fails
                capture.fail_at = len(capture.sent) + len(TRACK_MEDIA[track]) - 1
            elif step == "stop":
                streamer._halt()
            now = due + 300_000
            rest = [job]
            if lane:
                again, rest = run_bucket([job], due, now)
                fast += len(again)
                if not again and not rest:  # the pass ended it
                    ended = i
                    break
            if any(j.tick(now) is None for j in rest):
                ended = i
                break
            due += FRAME_NS
        streamer._halt()
        streamer._release_lane()
        await recorder.close()
        return {
            "sent": capture.sent,
            "frames_sent": streamer.frames_sent,
            "counted": counters.frames_sent,
            "seq": streamer.sender.seq,
            "chunk": streamer.sender.chunk,
            "ended": ended,
            "failure": streamer._failure,
            "fast": fast,
        }

    out = run(main())
    files = sorted((root / "records" / "sent_frames").glob("*.parquet"))
    rows = [r for f in files for r in pq.read_table(f).to_pylist()]
    for r in rows:
        assert r["wire_ns"] == r["sent_ns"] >= r["due_ns"]  # no emulated network
        del r["wire_ns"], r["sent_ns"]  # the clock's readings differ between runs
    out["rows"] = rows
    return out


def _both(dialect: str, track: str, steps: list[str]) -> tuple[dict[str, Any], int]:
    """Both paths' outcome; the lane's, and how many chunks its pass sent."""
    stream = make_stream(track=track, codec="PCMU")
    with tempfile.TemporaryDirectory() as tmp:
        by_lane = _drive(Path(tmp, "lane"), stream, dialect, steps, lane=True)
        by_tick = _drive(Path(tmp, "tick"), stream, dialect, steps, lane=False)
    assert by_tick["fast"] == 0
    fast: int = by_lane.pop("fast")
    del by_tick["fast"]
    assert by_lane == by_tick
    return by_lane, fast


@pytest.mark.parametrize("dialect", ["signalwire", "twilio"])
@pytest.mark.parametrize("track", ["inbound_track", "both_tracks"])
def test_the_bucket_pass_sends_and_logs_what_tick_does(
    dialect: str, track: str
) -> None:
    """60 chunks (past the 50-frame test-signal cycle) across three send-log
    windows, all through the pass: the same bytes, rows and counters as ``tick``."""
    steps = ["send"] * 20 + ["window"] + ["send"] * 19 + ["window"] + ["send"] * 19
    out, fast = _both(dialect, track, steps)
    tracks = len(TRACK_MEDIA[track])
    assert fast == 60  # every chunk went through the pass
    assert out["frames_sent"] == out["counted"] == 60 * tracks == len(out["rows"])
    assert out["chunk"] == 60 and out["seq"] == 60 * tracks
    assert all(isinstance(m, bytes) for m in out["sent"])  # one text frame each
    first = json.loads(out["sent"][0])
    assert first["sequenceNumber"] == "1" and first["media"]["chunk"] == "1"
    assert [r["chunk"] for r in out["rows"]][-1] == 60
    assert {r["payload_bytes"] for r in out["rows"]} == {160}


def test_a_pause_a_stall_and_a_failed_send_end_as_tick_ends_them() -> None:
    """The pass leaves a paused stream to ``tick`` and takes it back after; a
    pause longer than the stall timeout, or a send that raises mid-chunk, ends
    the stream with the same counts and the same reason."""
    resumed = ["send"] * 3 + ["pause"] + ["send"] * 2 + ["resume"] + ["send"] * 5
    out, fast = _both("signalwire", "both_tracks", resumed)
    assert out["ended"] == -1 and fast == 12 - 4  # chunks 4-7 went through tick
    stalled = ["send", "pause"] + ["send"] * 10
    out, _ = _both("signalwire", "inbound_track", stalled)
    assert out["ended"] > 0 and "stopped reading" in out["failure"]
    failed = ["send"] * 4 + ["fail"]
    out, _ = _both("twilio", "both_tracks", failed)
    assert out["ended"] == 4 and "ConnectionResetError" in out["failure"]
    assert (
        out["frames_sent"] == len(out["rows"]) == 4 * 2 + 1
    )  # the chunk's first frame


_STEPS = st.lists(
    st.sampled_from(["send"] * 6 + ["pause", "resume", "window", "fail", "stop"]),
    max_size=60,
)


@hsettings(max_examples=40, deadline=None)
@given(
    steps=_STEPS,
    dialect=st.sampled_from(["signalwire", "twilio"]),
    track=st.sampled_from(["inbound_track", "outbound_track", "both_tracks"]),
)
def test_any_mix_of_events_paces_as_tick_paces(
    steps: list[str], dialect: str, track: str
) -> None:
    """Pauses, resumptions, new send-log windows, failed sends and stops in any
    order: the pass and ``tick`` agree on every byte, row, counter and the end."""
    _both(dialect, track, steps)
