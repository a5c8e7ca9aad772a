"""Build real run directories for report tests, through the producers' own sink."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any, Final

from harness.core.rules import Checker
from harness.io.sink import RecordSink
from reports.gates import Threshold
from reports.load import Run
from reports.summary import build_report


MS = 1_000_000
"""One millisecond in ns, the unit records use."""
T0 = 1_000_000 * MS
"""An arbitrary CLOCK_MONOTONIC origin for test runs."""


class RunBuilder:
    """Rows for each producer kind, written as Parquet parts by :class:`RecordSink`."""

    def __init__(self, root: Path, *, batch_rows: int = 50_000) -> None:
        self.root = root
        self.scenario = RecordSink(
            root, "scenario-1", "scenario", batch_rows=batch_rows
        )
        self.platform = RecordSink(
            root, "platform-1", "platform", batch_rows=batch_rows
        )
        self.receiver = RecordSink(
            root, "receiver-1", "receiver", batch_rows=batch_rows
        )

    def request(
        self,
        request_id: str,
        *,
        kind: str = "start",
        codec: str = "PCMU",
        track: str = "inbound_track",
        due_ns: int = T0,
        sent_ns: int = T0,
        done_ns: int = T0 + 10 * MS,
        status: int = 200,
        stream_sid: str = "",
        run_id: str = "run-1",
        error: str = "",
        params: str = "",
        correlation: str = "",
        account_sid: str = "",
    ) -> None:
        self.scenario.add(
            "requests",
            (run_id, request_id, kind, "CF1", codec, track, 0, due_ns, sent_ns,
             done_ns, status, stream_sid, error, params, correlation, account_sid),
        )  # fmt: skip

    def platform_stream(
        self,
        sid: str,
        request_id: str,
        *,
        codec: str = "PCMU",
        track: str = "inbound_track",
        frames_sent: int = 0,
        first_due_ns: int = T0,
        end_reason: str = "stopped",
        error: str = "",
    ) -> None:
        self.platform.add(
            "platform_streams",
            (sid, "CF1", request_id, codec, track, 0, T0, T0, first_due_ns, T0,
             frames_sent, end_reason, error),
        )  # fmt: skip

    def sent(self, sid: str, track: str, chunk: int, sent_ns: int) -> None:
        self.platform.add(
            "sent_frames", (sid, track, chunk, chunk, sent_ns, sent_ns, 160, sent_ns)
        )

    def frame(
        self,
        sid: str,
        track: str,
        chunk: int,
        arrival_ns: int,
        *,
        payload: int = 160,
        jitter_ns: float = 0.0,
    ) -> None:
        self.receiver.add(
            "frames",
            (
                sid,
                track,
                chunk,
                chunk,
                (chunk - 1) * 20,
                arrival_ns,
                payload,
                jitter_ns,
            ),
        )

    def stream(
        self,
        sid: str,
        request_id: str,
        *,
        codec: str = "PCMU",
        start_ns: int = T0 + 100 * MS,
        first_media_ns: int = T0 + 120 * MS,
        stop_ns: int = T0 + 5_000 * MS,
        closed_ns: int | None = None,
        run_id: str = "run-1",
        announced: tuple[str, str, str, str] = ("", "", "", ""),
        account_sid: str = "",
    ) -> None:
        """``announced``: start's tracks, mediaFormat, parameter fingerprint and
        streamload value, as the receiver records them (for the join by sid)."""
        closed = stop_ns + MS if closed_ns is None else closed_ns
        self.receiver.add(
            "streams",
            (sid, run_id, request_id, codec, "inbound_track", 0, start_ns - MS,
             start_ns, first_media_ns, stop_ns, closed, 0, 0, 0, 1000,
             *announced, account_sid),
        )  # fmt: skip

    def checker(self, checker: Checker, source: str = "receiver") -> None:
        self.receiver.add_checker(source, checker)

    def media(
        self,
        sid: str,
        *,
        track: str = "inbound",
        chunks: int = 100,
        missing: Iterable[int] = (),
        latency_ns: int = MS,
        first_ns: int = T0 + 120 * MS,
        log: bool = True,
    ) -> None:
        """A paced track: chunk c sent at ``first + (c-1) x 20 ms``, received later."""
        skip = set(missing)
        for chunk in range(1, chunks + 1):
            sent_ns = first_ns + (chunk - 1) * 20 * MS
            if log:
                self.sent(sid, track, chunk, sent_ns)
            if chunk not in skip:
                self.frame(sid, track, chunk, sent_ns + latency_ns)

    def good_stream(self, sid: str, request_id: str, *, codec: str = "PCMU") -> None:
        """A start request, a platform stream, 50 frames, a stop: all gates pass."""
        self.request(request_id, stream_sid=sid, codec=codec)
        self.platform_stream(sid, request_id, codec=codec, frames_sent=50)
        self.stream(sid, request_id, codec=codec)
        self.media(sid, chunks=50)

    def write(self) -> Path:
        for sink in (self.scenario, self.platform, self.receiver):
            sink.flush()
        return self.root


DEFAULT_THRESHOLDS: Final[tuple[Threshold, ...]] = (
    # an empty run must not pass: at least one stream was started and answered
    Threshold("activity", "accounting.requests_started_ok", ">=", 1),
    Threshold("conformance", "conformance.failed", "==", 0),
    Threshold("loss", "performance.codecs.*.loss_ratio", "<=", 0.001),
    Threshold("latency", "performance.codecs.*.latency_ms.p99", "<=", 50),
    Threshold("setup", "performance.codecs.*.setup_ms.p99", "<=", 3000),
    Threshold("accounting", "accounting.unaccounted", "==", 0),
    Threshold("request-errors", "performance.requests.error_ratio", "<=", 0.01),
)
"""A fixed set of gates for report tests, independent of the built-in profiles
(the product judges a run without ``profile.json`` by the ``default`` profile)."""


def build_summary(
    run: Run, thresholds: Iterable[Threshold] = DEFAULT_THRESHOLDS
) -> dict[str, Any]:
    """The ``summary.json`` content for ``run``, gated by ``thresholds``."""
    return build_report(run, thresholds).summary
