"""The run's live media view: sum the receivers' ``live`` objects, show them.

Each receiver child hands every ``stats`` line to :meth:`LiveView.feed` (on
its reader thread); the runner calls :meth:`LiveView.tick` from its watch
loop, which, when a line came since, computes the figures once
(:meth:`harness.core.live.Live.figures`) and passes them to the places
people watch:

* the progress line (:meth:`LiveView.line`);
* ``live.json`` in the run directory, which the Locust web UI's "Media" tab
  reads (:mod:`scenarios.media_tab`);
* the Prometheus endpoint of ``--metrics-listen`` (:mod:`harness.io.metrics_endpoint`).

After the receivers have exited (their readers joined: every line is in),
``tick(finished=True)`` publishes the final figures, the ones the report
computes from the records.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.core.live import FIELD, LIVE_FILE, Figures, Live, progress_line
from harness.io.metrics_endpoint import MetricsEndpoint


__all__ = ["LIVE_FILE", "LiveView"]


class LiveView:
    """The running totals, where they are shown, and the endpoint's lifetime."""

    def __init__(self, out: Path, listen: tuple[str, int] | None) -> None:
        """Start the endpoint when ``listen`` is given.

        Raises:
            ConfigError: its address cannot be bound.
        """
        self.path = out / LIVE_FILE
        self.endpoint = MetricsEndpoint(*listen) if listen is not None else None
        self._live = Live()
        self._violations: dict[str, int] = {}
        self._lock = threading.Lock()
        self._dirty = False
        self.figures: Figures = self._live.figures()

    def feeder(self, source: str) -> Callable[[dict[str, Any]], None]:
        """The ``on_stats`` of the child ``source`` (a receiver)."""

        def feed(line: dict[str, Any]) -> None:
            violations = line.get("violations")
            with self._lock:
                if FIELD in line:
                    self._live.feed(source, line[FIELD])
                if isinstance(violations, int):
                    self._violations[source] = violations
                self._dirty = True

        return feed

    def tick(self, elapsed_s: float, *, finished: bool = False) -> None:
        """Publish the figures if a line came since the last tick (or at the end)."""
        with self._lock:
            if not (self._dirty or finished):
                return
            self._dirty = False
            figures = self.figures = self._live.figures()
            violations = sum(self._violations.values())
        if self.endpoint is not None:
            self.endpoint.update(figures, violations, elapsed_s, finished=finished)
        doc = {
            "elapsed_s": round(elapsed_s, 3),
            "finished": finished,
            "violations": violations,
            **figures.as_json(),
        }
        with contextlib.suppress(OSError):  # a full disk: the report says so
            tmp = self.path.with_name(f".{self.path.name}.tmp")
            tmp.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
            tmp.replace(self.path)

    def line(self) -> str:
        return progress_line(self.figures)

    def close(self) -> None:
        if self.endpoint is not None:
            self.endpoint.close()
            self.endpoint = None
