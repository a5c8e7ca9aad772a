"""The run's live media view: merge the receivers' ``live`` objects, show them.

The runner hands over its receiver children's latest ``stats`` lines at each
tick; the view merges their ``live`` objects (:mod:`harness.core.live`) once
any line is new, and passes the result to the places people watch:

* the progress line (:meth:`LiveView.line`);
* ``live.json`` in the run directory, which the Locust web UI's "Media" tab
  reads (:mod:`scenarios.media_tab`);
* the Prometheus endpoint of ``--metrics-listen`` (:mod:`harness.io.metrics_endpoint`).

After the receivers have exited, :meth:`LiveView.finish` merges their last
lines: the figures the report computes from the records.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from harness.core.live import FIELD, Live, merge, progress_line
from harness.io.metrics_endpoint import MetricsEndpoint


__all__ = ["LIVE_FILE", "LiveView"]

LIVE_FILE = "live.json"
"""The merged live figures in the run directory, rewritten at each new line."""


class LiveView:
    """The latest merged figures, where they are shown, and the endpoint's lifetime."""

    def __init__(self, out: Path, listen: tuple[str, int] | None) -> None:
        """Start the endpoint when ``listen`` is given.

        Raises:
            ConfigError: its address cannot be bound.
        """
        self.path = out / LIVE_FILE
        self.endpoint = MetricsEndpoint(*listen) if listen is not None else None
        self.live = Live()
        self._seen: list[int] = []

    def tick(
        self,
        stats: Sequence[Mapping[str, Any]],
        elapsed_s: float,
        *,
        finished: bool = False,
    ) -> None:
        """Merge ``stats`` (each receiver's latest line) when any is new, and publish."""
        seen = [id(s) for s in stats]
        if seen == self._seen and not finished:
            return
        self._seen = seen
        self.live = merge(s.get(FIELD) for s in stats)
        violations = sum(int(s.get("violations") or 0) for s in stats)
        if self.endpoint is not None:
            self.endpoint.update(self.live, violations, elapsed_s, finished=finished)
        doc = {
            "elapsed_s": round(elapsed_s, 3),
            "finished": finished,
            **self.live.summary(),
        }
        with contextlib.suppress(OSError):  # a full disk: the report says so
            tmp = self.path.with_name(f".{self.path.name}.tmp")
            tmp.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
            tmp.replace(self.path)

    def line(self) -> str:
        return progress_line(self.live)

    def close(self) -> None:
        if self.endpoint is not None:
            self.endpoint.close()
            self.endpoint = None
