"""Where every stream went: started, served, received, stopped, or unaccounted.

A stream is unaccounted when its start request got HTTP 200 but no receiver
ever saw its ``start`` (matched on the request id, else the stream sid), or when
a receiver saw it start but never saw its ``stop``.
"""

from __future__ import annotations

from typing import Any, Final

import pandas as pd

from reports.load import Run


__all__ = ["account"]

_EXAMPLES: Final = 5

Json = dict[str, Any]


def account(run: Run) -> Json:
    """The accounting section of the summary."""
    requests, streams = run.requests, run.streams
    started = requests[(requests["kind"] == "start") & (requests["status"] == 200)]
    received = streams[streams["start_ns"] > 0]
    arrived = _known(started["request_id"], received["request_id"]) | _known(
        started["stream_sid"], received["stream_sid"]
    )
    never_arrived = started[~arrived]
    no_stop = received[received["stop_ns"] <= 0]
    matched = _known(received["request_id"], started["request_id"]) | _known(
        received["stream_sid"], started["stream_sid"]
    )
    examples = [
        *_examples(never_arrived, "start request got 200; no receiver saw the stream"),
        *_examples(no_stop, "the stream started but no stop message arrived"),
    ][:_EXAMPLES]
    return {
        "requests_started_ok": len(started),
        "streams_platform": len(run.platform_streams),
        "streams_received": len(received),
        "streams_stopped": int((received["stop_ns"] > 0).sum()),
        "streams_unmatched": int((~matched).sum()) if len(requests) else None,
        "frames_sent": _frames_sent(run),
        "frames_received": len(run.frames),
        "never_arrived": len(never_arrived),
        "without_stop": len(no_stop),
        "unaccounted": len(never_arrived) + len(no_stop),
        "unaccounted_examples": examples,
    }


def _known(values: pd.Series[Any], among: pd.Series[Any]) -> pd.Series[bool]:
    """Whether each value is non-empty and occurs in ``among``."""
    pool = among[among != ""].unique()
    return (values != "") & values.isin(pool)


def _examples(rows: pd.DataFrame, reason: str) -> list[Json]:
    head = rows.head(_EXAMPLES)
    return [
        {"stream_sid": str(sid), "request_id": str(req), "reason": reason}
        for sid, req in zip(head["stream_sid"], head["request_id"], strict=True)
    ]


def _frames_sent(run: Run) -> int | None:
    """Rows of the send log, else the platform's per-stream counts, else unknown."""
    if len(run.sent_frames):
        return len(run.sent_frames)
    if len(run.platform_streams):
        return int(run.platform_streams["frames_sent"].sum())
    return None
