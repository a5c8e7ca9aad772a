"""A pacing stream's hot state in one object, and the pass that sends a whole 1 ms bucket of them.

Every 20 ms each stream sends one chunk: format a frame per track from the
sender's templates, write it to the socket, log the chunk. The bare sender of
``scripts/bench_platform.py`` does that with a tuple per stream and ~0.8 µs of
Python a frame. The platform did it through its :class:`~harness.platform.streamer.Streamer`:
seven state checks on the streamer, the client and the sender, a call into
the sender, the recorder and its window, two counters. On a core that TLS and
the kernel's socket path keep evicting from the caches, that Python cost
~4.7 µs a frame (``perf``: the interpreter's eval loop 1,181 samples against
the bare sender's 208 for the same frames), although the same code runs in
~1.2 µs on a warm core (``scripts/bench_hotpath.py``). Each object touched
and each bytecode counts there. So a stream in the common case (live, its
buffer draining, no emulated network, playback or planned disconnect) is
paced through a :class:`Lane`: one object with slots holding what the pass
reads, checked with one flag that the streamer and the client clear; a frame is the
sender's template filled in; the send log's record is packed inline; the
counters are added once a pass. Measured in one platform process, buckets
alternating between the two passes: 22.0-22.6 µs a frame against 26.1-27.8
(docs/performance.md "A lane per stream").

The lane borrows the sender's counters (``sequenceNumber``, chunk) and the
streamer's schedule while it paces; the streamer takes them back
(:meth:`Lane.sync`) before anything else reads them: whenever the pass
leaves the lane to :meth:`Lane.tick` (the streamer's :meth:`tick`, all
cases), and when the stream stops pacing. A frame is the same bytes as
:meth:`harness.core.sender.Sender.media_wire` builds
(``tests/harness/platform/test_lane.py`` holds them and the send log equal).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from harness.core.audio import FRAMES_PER_CYCLE
from harness.core.codecs import FRAME_MS, FRAME_NS
from harness.core.sender import Sender
from harness.io.recorder import Recorder
from harness.platform.sendlog import RECORD, SendLog
from harness.platform.ticker import PERIOD_SLOTS, RESOLUTION_NS, Job
from harness.platform.wsclient import TEXT, WsClient


if TYPE_CHECKING:
    from harness.platform.streamer import Counters, Streamer


__all__ = ["Lane", "run_bucket"]

_clock = time.monotonic_ns
"""The send log's clock, bound once (read per chunk)."""

assert PERIOD_SLOTS * RESOLUTION_NS == FRAME_NS, "run_bucket: one frame a period"


class Lane:
    """What the bucket pass reads of one pacing stream; the ticker's job for it.

    Made by the streamer when it starts pacing a stream in the common case,
    with the sender's counters as they are then.
    """

    __slots__ = (
        "chunk",
        "counters",
        "due",
        "fast",
        "frames",
        "key",
        "log",
        "nbytes",
        "recorder",
        "send",
        "seq",
        "sid",
        "single",
        "streamer",
        "synced",
        "template",
        "track_names",
        "wire",
        "ws",
    )

    def __init__(
        self,
        streamer: Streamer,
        ws: WsClient,
        sender: Sender,
        recorder: Recorder,
        counters: Counters,
        due_ns: int,
    ) -> None:
        self.streamer = streamer
        self.ws = ws
        self.send = ws.send_frame
        self.wire = sender.wire
        self.single = len(sender.wire) == 1
        self.template, self.frames = sender.wire[0]
        self.sid = sender.sid
        self.track_names = sender.track_names
        self.nbytes = sender.frame_bytes
        self.recorder = recorder
        self.counters = counters
        self.log: SendLog | None = None
        """The send-log window :attr:`key` belongs to (a new one at every flush)."""
        self.key = 0
        self.seq = sender.seq
        """The last ``sequenceNumber`` sent (the sender's, borrowed)."""
        self.chunk = sender.chunk
        """The last chunk sent (the sender's, borrowed)."""
        self.synced = sender.chunk
        """:attr:`chunk` when the streamer last took the counters back."""
        self.due = due_ns
        """When the next chunk is due (the streamer's schedule, borrowed)."""
        self.fast = ws.open and not ws.paused
        """The stream is live, its connection open and draining: the pass may send.
        Cleared by the streamer (stop, end, a stall it waits out) and by the
        client (:meth:`WsClient._lane_off`: closed, paused); then :meth:`tick`
        runs, and the streamer sets it again when all of it holds."""
        ws.lane = self

    def tick(self, now_ns: int) -> int | None:
        """Everything the pass leaves: the streamer's own ``tick`` (:class:`Job`)."""
        return self.streamer.tick_lane(self, now_ns)

    def sync(self, sender: Sender) -> int:
        """Give the counters back to ``sender``; returns the frames sent since the last sync."""
        sender.seq = self.seq
        sender.chunk = self.chunk
        frames = (self.chunk - self.synced) * len(self.wire)
        self.synced = self.chunk
        return frames

    def borrow(self, sender: Sender, due_ns: int) -> None:
        """Take the counters again after the streamer used them."""
        self.seq = sender.seq
        self.chunk = self.synced = sender.chunk
        self.due = due_ns


def run_bucket(
    jobs: list[Job], slot_ns: int, now_ns: int
) -> tuple[list[Job], list[Job]]:
    """The ticker's :data:`~harness.platform.ticker.Burst`: one chunk of every
    :class:`Lane` of a bucket that may send, in one loop; the rest go to ``tick``.

    A lane sends when its streamer and its connection let it (:attr:`Lane.fast`:
    live, open, draining) and its chunk is due at this bucket. The chunk's
    ``sent_ns`` is read once, before its frames are formatted (as
    :meth:`~harness.platform.streamer.Streamer.tick`); its record goes into
    the recorder's current window (:data:`~harness.platform.sendlog.RECORD`, as
    :meth:`SendLog.chunk` packs it). A send that raises ends that stream alone.

    Long because: this is the per-frame hot path, one loop on purpose; a
    helper called per frame is what the lane exists to save (module docstring).
    """
    again: list[Job] = []
    rest: list[Job] = []
    clock = _clock
    pack = RECORD.pack
    recorder: Recorder | None = None
    window: SendLog | None = None
    counters: Counters | None = None
    rows = frames = 0
    for lane in jobs:
        if type(lane) is not Lane:
            rest.append(lane)
            continue
        if not lane.fast or lane.due != slot_ns:
            rest.append(lane)
            continue
        if lane.recorder is not recorder:
            if window is not None:
                window.rows += rows
                rows = 0
            recorder = lane.recorder
            window = recorder.buffer  # type: ignore[assignment]
        if lane.log is not window:
            assert window is not None
            lane.key = window.key(lane.sid, lane.track_names)
            lane.log = window
        if lane.counters is not counters:
            if counters is not None:
                counters.frames_sent += frames
                frames = 0
            counters = lane.counters
        sent = clock()
        chunk = lane.chunk + 1
        seq = lane.seq + 1
        count = 0
        try:
            if lane.single:
                lane.send(
                    TEXT,
                    lane.template
                    % (
                        seq,
                        chunk,
                        (chunk - 1) * FRAME_MS,
                        lane.frames[(chunk - 1) % FRAMES_PER_CYCLE],
                    ),
                )
                count = 1
            else:
                timestamp = (chunk - 1) * FRAME_MS
                index = (chunk - 1) % FRAMES_PER_CYCLE
                for template, payloads in lane.wire:
                    lane.send(
                        TEXT,
                        template % (seq + count, chunk, timestamp, payloads[index]),
                    )
                    count += 1
        except Exception as exc:  # a transport that broke under us: this stream only
            lane.streamer.lane_failed(lane, count, slot_ns, sent, exc)
            continue
        lane.chunk = chunk
        lane.seq = seq + count - 1
        lane.due = slot_ns + FRAME_NS
        window.records += pack(  # type: ignore[union-attr]
            lane.key, count, chunk, seq, slot_ns, sent, lane.nbytes, sent
        )
        rows += count
        frames += count
        again.append(lane)
    if window is not None:
        window.rows += rows
    if counters is not None:
        counters.frames_sent += frames
    return again, rest
