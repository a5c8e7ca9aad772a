"""harness.io.metrics_endpoint: Prometheus text of the live figures; bind errors name the flag."""

from __future__ import annotations

import socket
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from harness.core.errors import ConfigError
from harness.core.histogram import Histogram
from harness.core.live import encode_counts, merge
from harness.io.metrics_endpoint import FLAG, MetricsEndpoint


MS = 1_000_000


def _scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (loopback)
        text = response.read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_serves_the_figures_it_was_given_and_their_final_state() -> None:
    transit = Histogram()
    for v in (1 * MS, 2 * MS, 3 * MS):
        transit.record(v)
    doc = {
        "seq": 1,
        "tracks": {
            "PCMU": {"inbound": {"transit": encode_counts(transit.counts), "due": 4}}
        },
        "started": {"PCMU": 2},
        "open": {"PCMU": 1},
    }
    figures = merge([("r", doc)]).figures()
    endpoint = MetricsEndpoint("127.0.0.1", 0)
    try:
        assert endpoint.url == f"http://127.0.0.1:{endpoint.port}/metrics"
        empty = _scrape(endpoint.url)
        assert empty[("streamload_run_finished", ())] == 0
        assert not [k for k in empty if k[0] == "streamload_frames_received_total"]
        endpoint.update(figures, 5, 12.5, finished=True)
        got = _scrape(endpoint.url)
    finally:
        endpoint.close()
    track = (("codec", "PCMU"), ("track", "inbound"))
    assert got[("streamload_frames_received_total", track)] == 3
    assert got[("streamload_frames_lost_total", track)] == 1
    assert got[("streamload_streams_started_total", (("codec", "PCMU"),))] == 2
    assert got[("streamload_streams_live", (("codec", "PCMU"),))] == 1
    p99 = got[
        (
            "streamload_transit_seconds",
            (("codec", "PCMU"), ("quantile", "0.99"), ("track", "inbound")),
        )
    ]
    assert p99 == pytest.approx(3.001e-3)  # the middle of 3 ms's 2-µs bucket
    assert figures.tracks["PCMU", "inbound"].transit_ns[1] == p99 * 1e9
    assert got[("streamload_violations_total", ())] == 5
    assert got[("streamload_run_elapsed_seconds", ())] == 12.5
    assert got[("streamload_run_finished", ())] == 1


def test_a_taken_address_names_the_flag() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ConfigError) as caught:
            MetricsEndpoint("127.0.0.1", port)
    assert caught.value.field == FLAG == "--metrics-listen"
    assert f"127.0.0.1:{port}" in str(caught.value)
