"""REST request outcomes: counts, errors and latency, by kind and by codec.

Latency is ``done - sent``; ``from_due_ms`` is ``done - due``, measured from
when the request was scheduled, so a driver that fell behind cannot hide the
wait (coordinated omission, docs/architecture.md).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from reports.stats import distribution, ratio


__all__ = ["summarise_requests"]

_TOP_ERRORS: Final = 5
_ERROR_CHARS: Final = 200

Json = dict[str, Any]


def summarise_requests(requests: pd.DataFrame) -> Json:
    """Totals, then ``by_kind`` (start/stop) and ``by_codec`` (start requests).

    The columns are taken out as numpy arrays once and each block is a boolean
    mask over them: a capacity report summarises every level's requests, and
    per-block pandas indexing cost more than the arithmetic.
    """
    columns = _Columns.of(requests)
    out = _block(columns, np.ones(len(requests), bool))
    kinds = columns.kind
    out["by_kind"] = {
        str(kind): _block(columns, kinds == kind) for kind in sorted(set(kinds))
    }
    start = kinds == "start"
    out["by_codec"] = {
        str(codec): _block(columns, start & (columns.codec == codec))
        for codec in sorted(set(columns.codec[start]))
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


@dataclasses.dataclass(frozen=True)
class _Columns:
    """The request columns a block reads, as numpy arrays."""

    kind: npt.NDArray[Any]
    codec: npt.NDArray[Any]
    status: npt.NDArray[Any]
    sent_ns: npt.NDArray[Any]
    done_ns: npt.NDArray[Any]
    due_ns: npt.NDArray[Any]

    @classmethod
    def of(cls, requests: pd.DataFrame) -> _Columns:
        return cls(
            **{f.name: requests[f.name].to_numpy() for f in dataclasses.fields(cls)}
        )


def _block(columns: _Columns, rows: npt.NDArray[np.bool_]) -> Json:
    count = int(rows.sum())
    status = columns.status[rows]
    errors = int((status != 200).sum())
    done, sent, due = columns.done_ns[rows], columns.sent_ns[rows], columns.due_ns[rows]
    answered = (done > 0) & (sent > 0)
    scheduled = (done > 0) & (due > 0)
    values, counts = np.unique(status, return_counts=True)
    return {
        "count": count,
        "errors": errors,
        "error_ratio": ratio(errors, count),
        "statuses": {
            str(s): int(n)
            for s, n in zip(values.tolist(), counts.tolist(), strict=True)
        },
        "latency_ms": distribution(done[answered] - sent[answered]),
        "from_due_ms": distribution(done[scheduled] - due[scheduled]),
    }
