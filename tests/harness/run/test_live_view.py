"""harness.run.live_view: every receiver line in, figures out to live.json and the endpoint."""

from __future__ import annotations

import json
import threading
import urllib.request
from pathlib import Path

from harness.core.live import LIVE_FILE, encode_counts
from harness.run.live_view import LiveView


MS = 1_000_000


def line(seq: int, frames_at_ms: list[int], n_open: int) -> dict[str, object]:
    counts: dict[int, int] = {}
    for v in frames_at_ms:
        counts[v * 1000] = counts.get(v * 1000, 0) + 1  # 1-µs buckets below 2 ms
    return {
        "event": "stats",
        "violations": seq,
        "live": {
            "seq": seq,
            "tracks": {
                "PCMU": {
                    "inbound": {
                        "transit": encode_counts(counts),
                        "due": len(frames_at_ms),
                    }
                }
            },
            "open": {"PCMU": n_open},
        },
    }


def test_feeds_from_reader_threads_and_publishes_on_change(tmp_path: Path) -> None:
    view = LiveView(tmp_path, ("127.0.0.1", 0))
    try:
        feeds = [view.feeder("receiver-0"), view.feeder("receiver-open")]
        threads = [
            threading.Thread(
                target=lambda f=f: [f(line(s, [1, 1, 1], 1)) for s in range(1, 51)]
            )
            for f in feeds
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        view.tick(4.0)
        doc = json.loads((tmp_path / LIVE_FILE).read_text())
        assert doc["codecs"]["PCMU"]["frames"] == 2 * 50 * 3
        assert doc["codecs"]["PCMU"]["streams_live"] == 2
        assert (doc["finished"], doc["violations"], doc["gaps"]) == (False, 100, 0)
        assert (
            view.line() == "media PCMU: 2 live, p99 1.00 ms, jitter p99 -, loss 0.00%"
        )
        (tmp_path / LIVE_FILE).unlink()
        view.tick(5.0)  # nothing new: nothing rewritten
        assert not (tmp_path / LIVE_FILE).exists()
        feeds[0](line(51, [], 0))
        view.tick(6.0, finished=True)
        assert view.endpoint is not None
        with urllib.request.urlopen(view.endpoint.url, timeout=5) as response:  # noqa: S310
            text = response.read().decode()
        assert "streamload_run_finished 1.0" in text
        assert (
            'streamload_frames_received_total{codec="PCMU",track="inbound"} 300.0'
            in text
        )
        doc = json.loads((tmp_path / LIVE_FILE).read_text())
        assert doc["finished"] and doc["codecs"]["PCMU"]["streams_live"] == 1
    finally:
        view.close()
    assert view.endpoint is None


def test_without_an_endpoint_only_the_file(tmp_path: Path) -> None:
    view = LiveView(tmp_path, None)
    view.tick(1.0, finished=True)
    assert json.loads((tmp_path / LIVE_FILE).read_text())["codecs"] == {}
    assert view.line() == "media: no frames yet"
    view.close()
