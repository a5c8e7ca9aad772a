"""A "Media" tab in Locust's web UI: the run's live media figures per codec.

When ``streamload run --ui HOST:PORT`` starts Locust with its web UI, this
adds one tab beside Locust's own (Locust's documented extension point:
``extended_tabs``/``extended_tables`` template arguments and an
``extended_stats`` entry in ``/stats/requests``, as in Locust's
``examples/extend_web_ui.py``). Its rows are the figures ``streamload run``
writes to ``RUN_DIR/live.json`` as the receivers report
(:mod:`harness.core.live`): the same numbers as the progress line and the
``--metrics-listen`` endpoint, and at the end the report's. The raw document
is at ``/media/live`` on the same UI.

Without a web UI (headless) or a run directory, nothing is added.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Final

from flask import Response, request
from locust import events

from harness.core.live import COLUMNS, LIVE_FILE, table_rows


__all__ = ["KEY"]

KEY: Final = "media"
"""The tab's key in Locust's UI (its ``?tab=`` and ``extended_stats`` entry)."""


def _read(path: Path) -> dict[str, Any]:
    """``live.json``, or an empty document before the first figures (or if unreadable)."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return doc if isinstance(doc, dict) else {}


@events.init.add_listener
def _on_init(environment: Any, **_: Any) -> None:
    web_ui = environment.web_ui
    options = environment.parsed_options
    if web_ui is None or options is None or not getattr(options, "sl_run_dir", ""):
        return
    path = Path(options.sl_run_dir) / LIVE_FILE
    web_ui.template_args["extended_tabs"] = [{"title": "Media", "key": KEY}]
    web_ui.template_args["extended_tables"] = [
        {"key": KEY, "structure": [{"key": k, "title": t} for k, t in COLUMNS]}
    ]

    @web_ui.app.after_request
    def _add_media(response: Response) -> Response:
        if request.path != "/stats/requests" or not response.is_json:
            return response
        doc = response.get_json()
        extended = [{"key": KEY, "data": table_rows(_read(path))}]
        response.set_data(json.dumps({**doc, "extended_stats": extended}))
        return response

    @web_ui.app.route("/media/live")
    def _live() -> Response:
        return Response(json.dumps(_read(path)), mimetype="application/json")
