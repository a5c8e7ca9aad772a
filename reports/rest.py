"""REST request outcomes: counts, errors and latency, by kind and by codec.

Latency is ``done - sent``; ``from_due_ms`` is ``done - due``, measured from
when the request was scheduled, so a driver that fell behind cannot hide the
wait (coordinated omission, architecture.md).
"""

from __future__ import annotations

from typing import Any, Final

import pandas as pd

from reports.stats import distribution, ratio


__all__ = ["summarise_requests"]

_TOP_ERRORS: Final = 5
_ERROR_CHARS: Final = 200

Json = dict[str, Any]


def summarise_requests(requests: pd.DataFrame) -> Json:
    """Totals, then ``by_kind`` (start/stop) and ``by_codec`` (start requests)."""
    out = _block(requests)
    out["by_kind"] = {
        str(kind): _block(rows) for kind, rows in requests.groupby("kind", sort=True)
    }
    start = requests[requests["kind"] == "start"]
    out["by_codec"] = {
        str(codec): _block(rows) for codec, rows in start.groupby("codec", sort=True)
    }
    failed = requests.loc[_errors(requests) & (requests["error"] != ""), "error"]
    counts = failed.str.slice(0, _ERROR_CHARS).value_counts().sort_index()
    top = counts.sort_values(ascending=False, kind="stable").head(_TOP_ERRORS)
    out["top_errors"] = [
        {"error": str(text), "count": int(n)} for text, n in top.items()
    ]
    return out


def _errors(rows: pd.DataFrame) -> pd.Series[bool]:
    """A request failed unless it got HTTP 200 (status 0: no answer came)."""
    return rows["status"] != 200


def _block(rows: pd.DataFrame) -> Json:
    errors = int(_errors(rows).sum())
    answered = rows[(rows["done_ns"] > 0) & (rows["sent_ns"] > 0)]
    due = rows[(rows["done_ns"] > 0) & (rows["due_ns"] > 0)]
    statuses = rows["status"].value_counts().sort_index()
    return {
        "count": len(rows),
        "errors": errors,
        "error_ratio": ratio(errors, len(rows)),
        "statuses": {str(s): int(n) for s, n in statuses.items()},
        "latency_ms": distribution(
            (answered["done_ns"] - answered["sent_ns"]).to_numpy()
        ),
        "from_due_ms": distribution((due["done_ns"] - due["due_ns"]).to_numpy()),
    }
