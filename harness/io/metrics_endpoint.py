"""``--metrics-listen HOST:PORT``: the live media metrics for Prometheus.

``streamload run`` (and ``capacity``) serve, while the run goes and until its
report is written, the receivers' merged live figures
(:mod:`harness.core.live`) in Prometheus's text format, with the standard
client library (https://prometheus.github.io/client_python/). Each scrape
reads the latest merged snapshot the run handed over (:meth:`MetricsEndpoint.update`),
whole, so one scrape never mixes two moments. Once every receiver has
exited and its last ``stats`` line is in, ``streamload_run_finished`` turns 1:
from then on the figures are final, and equal the report's.

Metrics (codec and track as labels; Prometheus's naming: base units,
``_total`` for counters):

* ``streamload_frames_received_total{codec,track}``, ``streamload_frames_lost_total{codec,track}``
  (due by the highest chunk, not received), ``streamload_streams_started_total{codec}``,
  ``streamload_streams_live{codec}``;
* ``streamload_transit_seconds{codec,track,quantile}`` (arrival relative to the
  track's first frame on the media clock) and ``streamload_jitter_seconds{codec,track,quantile}``
  (RFC 3550), quantiles 0.5, 0.99 and 0.999, from the receivers' histograms;
* ``streamload_violations_total``, ``streamload_run_elapsed_seconds``, ``streamload_run_finished``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from harness.core.errors import ConfigError
from harness.core.live import QUANTILES, Figures, Live
from harness.io.deploy import format_listen


__all__ = ["FLAG", "MetricsEndpoint"]

FLAG = "--metrics-listen"
_NS = 1e9


class _Snapshot:
    """What one scrape reads: replaced whole, never changed in place."""

    __slots__ = ("elapsed_s", "figures", "finished", "violations")

    def __init__(
        self, figures: Figures, violations: int, elapsed_s: float, finished: bool
    ) -> None:
        self.figures = figures
        self.violations = violations
        self.elapsed_s = elapsed_s
        self.finished = finished


class _Collector(Collector):
    def __init__(self) -> None:
        self.snapshot = _Snapshot(Live().figures(), 0, 0.0, False)

    def collect(self) -> Iterator[Metric]:
        snap = self.snapshot  # one read: the scrape sees one moment
        figures = snap.figures
        track_labels = ["codec", "track"]
        received = CounterMetricFamily(
            "streamload_frames_received",
            "Media frames the receivers got.",
            labels=track_labels,
        )
        lost = CounterMetricFamily(
            "streamload_frames_lost",
            "Media frames due by the highest chunk of their track and not received.",
            labels=track_labels,
        )
        transit = GaugeMetricFamily(
            "streamload_transit_seconds",
            "Arrival relative to the track's first frame on the media clock, quantiles.",
            labels=[*track_labels, "quantile"],
        )
        jitter = GaugeMetricFamily(
            "streamload_jitter_seconds",
            "RFC 3550 interarrival jitter estimate, quantiles over frames.",
            labels=[*track_labels, "quantile"],
        )
        for (codec, track), t in figures.tracks.items():
            received.add_metric([codec, track], t.frames)
            lost.add_metric([codec, track], t.lost)
            for family, values in ((transit, t.transit_ns), (jitter, t.jitter_ns)):
                for q, value in zip(QUANTILES, values, strict=True):
                    if value is not None:
                        family.add_metric([codec, track, f"{q:g}"], value / _NS)
        started = CounterMetricFamily(
            "streamload_streams_started",
            "Streams whose first frame came.",
            labels=["codec"],
        )
        live_now = GaugeMetricFamily(
            "streamload_streams_live",
            "Streams open at the receivers now.",
            labels=["codec"],
        )
        for view in figures.codecs:
            started.add_metric([view.codec], view.streams_started)
            live_now.add_metric([view.codec], view.streams_live)
        yield from (received, lost, transit, jitter, started, live_now)
        yield CounterMetricFamily(
            "streamload_violations",
            "Contract violations the receivers recorded.",
            value=snap.violations,
        )
        yield GaugeMetricFamily(
            "streamload_run_elapsed_seconds",
            "Seconds since the load started.",
            value=snap.elapsed_s,
        )
        yield GaugeMetricFamily(
            "streamload_run_finished",
            "1 once every receiver's last figures are in: the values are final.",
            value=1.0 if snap.finished else 0.0,
        )


class MetricsEndpoint:
    """An HTTP server (its own thread) serving the latest snapshot on ``/metrics``."""

    def __init__(self, host: str, port: int) -> None:
        """Bind and serve now.

        Raises:
            ConfigError: the address cannot be bound (naming :data:`FLAG`).
        """
        self._collector = _Collector()
        registry = CollectorRegistry(auto_describe=False)
        registry.register(self._collector)
        try:
            self._server, self._thread = _serve(host, port, registry)
        except OSError as exc:
            raise ConfigError(
                FLAG,
                f"cannot listen on {format_listen(host, port)} ({exc.strerror or exc})",
                "choose a free port and an address of this machine",
            ) from None
        self.port: int = self._server.server_address[1]
        self.url = f"http://{format_listen(host, self.port)}/metrics"

    def update(
        self,
        figures: Figures,
        violations: int,
        elapsed_s: float,
        *,
        finished: bool = False,
    ) -> None:
        """Hand over the newest figures (the next scrape serves them)."""
        self._collector.snapshot = _Snapshot(figures, violations, elapsed_s, finished)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


def _serve(
    host: str, port: int, registry: CollectorRegistry
) -> tuple[WSGIServer, threading.Thread]:
    return start_http_server(port, addr=host, registry=registry)
