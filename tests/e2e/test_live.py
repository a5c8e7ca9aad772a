"""Live media figures during a real run: Prometheus endpoint, Locust's Media tab, report.

One short run with ``--metrics-listen`` and ``--ui`` on free loopback ports:
the endpoint is scraped while the load goes (the counts grow), the Media tab
of Locust's web UI is read against ``live.json``, and once the endpoint says
the figures are final (every receiver's last line is in, before the report is
written), its frame counts and percentiles equal ``summary.json``'s.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from harness.core.live import LIVE_FILE, table_rows
from tests.conftest import seconds
from tests.e2e.runs import SECRETS, streamload, summary


pytestmark = pytest.mark.e2e

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _get(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (loopback)
            text: str = response.read().decode()
            return text
    except (urllib.error.URLError, OSError):
        return None


def _scrape(url: str) -> Samples | None:
    text = _get(url)
    if text is None:
        return None
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _frames(samples: Samples) -> dict[tuple[str, str], float]:
    return {
        (dict(labels)["codec"], dict(labels)["track"]): value
        for (name, labels), value in samples.items()
        if name == "streamload_frames_received_total"
    }


def _tab_matches_live_json(ui: str, out: Path) -> bool:
    """The Media tab's rows == live.json's, read around it (unchanged meanwhile)."""
    path = out / LIVE_FILE
    before = path.read_text() if path.exists() else None
    body = _get(f"{ui}/stats/requests")
    after = path.read_text() if path.exists() else None
    if body is None or before is None or before != after:
        return False
    extended = json.loads(body).get("extended_stats", [])
    tab = [e["data"] for e in extended if e["key"] == "media"]
    want = table_rows(json.loads(before))
    assert tab == [want], (tab, want)
    return bool(want)


def test_live_figures_grow_during_the_run_and_end_equal_to_the_report(
    tmp_path: Path,
) -> None:
    out = tmp_path / "live"
    metrics, ui = _free_port(), _free_port()
    url, ui_url = f"http://127.0.0.1:{metrics}/metrics", f"http://127.0.0.1:{ui}"
    argv = [
        *("-m", "harness.run.cli", "run", "--duration", "6s", "--users", "4"),
        *("--negative", "off", "--out", str(out)),
        *("--metrics-listen", f"127.0.0.1:{metrics}", "--ui", f"127.0.0.1:{ui}"),
    ]
    proc = subprocess.Popen(
        [sys.executable, *argv],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **SECRETS},
    )
    totals: list[float] = []
    tab_checked = False
    final: Samples | None = None
    try:
        deadline = time.monotonic() + seconds(90)
        while time.monotonic() < deadline and proc.poll() is None:
            samples = _scrape(url)
            if samples is not None:
                if samples[("streamload_run_finished", ())] == 1:
                    final = samples
                    break
                totals.append(sum(_frames(samples).values()))
            if not tab_checked and samples and _frames(samples):
                tab_checked = _tab_matches_live_json(ui_url, out)
            time.sleep(0.3)
        stdout, stderr = proc.communicate(timeout=seconds(90))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode in (0, 1), stderr[-3000:]  # 1: a gate (a loaded CI box)
    assert "live metrics on http://127.0.0.1:" in stderr and "media " in stderr
    growing = [t for t in totals if t]
    assert len(growing) >= 2 and growing[-1] > growing[0], totals
    assert tab_checked, "the Media tab never showed figures"
    assert final is not None, "the endpoint never said the figures were final"
    _final_equals_the_report(final, summary(out))


def _final_equals_the_report(final: Samples, report: dict[str, Any]) -> None:
    perf = report["performance"]
    frames = _frames(final)
    per_codec: dict[str, float] = {}
    for (codec, _), n in frames.items():
        per_codec[codec] = per_codec.get(codec, 0) + n
    assert per_codec == {c: v["frames"] for c, v in perf["codecs"].items()}
    for codec, by_track in perf["receiver_histograms"].items():
        for track, metrics in by_track.items():
            transit = metrics["transit_first_ms"]
            assert frames[codec, track] == transit["count"]
            labels = (("codec", codec), ("quantile", "0.99"), ("track", track))
            p99 = final[("streamload_transit_seconds", labels)]
            # the report rounds to 3 decimals; a bucket's middle (x.5 µs) may
            # round either way in binary floating point
            assert abs(p99 * 1000 - transit["p99"]) <= 0.0005 + 1e-9
    lost = sum(
        v for (name, _), v in final.items() if name == "streamload_frames_lost_total"
    )
    assert lost == sum(v["frames_lost"] or 0 for v in perf["codecs"].values())


def test_a_taken_metrics_port_is_a_usage_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = streamload(
            "run", "--metrics-listen", f"127.0.0.1:{port}", "--out", str(tmp_path / "x"),
            timeout=60,
        )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert "--metrics-listen" in proc.stderr and f"127.0.0.1:{port}" in proc.stderr
