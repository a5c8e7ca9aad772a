"""Numeric helpers shared by the report sections: distributions and ratios.

They take NumPy arrays, so a section can summarise tens of millions of frames
without a Python loop per row.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Final

import numpy as np
import numpy.typing as npt


__all__ = [
    "NS_PER_MS",
    "QUANTILES",
    "distribution",
    "ms",
    "quantiles",
    "ratio",
    "spread",
]

NS_PER_MS: Final = 1_000_000
QUANTILES: Final[tuple[tuple[str, float], ...]] = (
    ("p50", 0.5),
    ("p90", 0.9),
    ("p95", 0.95),
    ("p99", 0.99),
    ("p999", 0.999),
)
"""Reported percentiles; linear interpolation between order statistics (NumPy's default)."""

Number = float | int
Array = npt.NDArray[Any]


def ms(value_ns: float | None) -> float | None:
    """Nanoseconds to milliseconds rounded to 3 decimals (a microsecond)."""
    if value_ns is None or not math.isfinite(value_ns):
        return None
    return round(value_ns / NS_PER_MS, 3)


def ratio(numerator: Number, denominator: Number, digits: int = 6) -> float | None:
    """``numerator / denominator`` rounded, or ``None`` when there is nothing to divide."""
    if denominator <= 0:
        return None
    return round(float(numerator) / float(denominator), digits)


def quantiles(values: Array, qs: Sequence[float]) -> list[float]:
    """Linear-interpolation quantiles of ``values`` (which must not be empty)."""
    return [float(v) for v in np.quantile(values, list(qs))]


def distribution(values_ns: Array) -> dict[str, float | int | None]:
    """Summarise durations in ns as milliseconds: p50...p999, max, min, mean, count.

    NaN values are ignored; with no values every statistic is ``None`` and
    ``count`` is 0, so the key layout never depends on the data.
    """
    values = np.asarray(values_ns)
    if values.dtype.kind == "f":
        missing = np.isnan(values)
        if missing.any():
            values = values[~missing]
    out: dict[str, float | int | None] = {name: None for name, _ in QUANTILES}
    out.update(max=None, min=None, mean=None, count=int(values.size))
    if values.size == 0:
        return out
    for (name, _), value in zip(
        QUANTILES, quantiles(values, [q for _, q in QUANTILES]), strict=True
    ):
        out[name] = ms(value)
    out["max"] = ms(float(values.max()))
    out["min"] = ms(float(values.min()))
    out["mean"] = ms(float(values.mean(dtype=np.float64)))
    return out


def spread(values: Array, digits: int = 3) -> dict[str, float | int | None]:
    """Like :func:`distribution` for plain quantities (counts, ratios): no unit change."""
    values = np.asarray(values, np.float64)
    values = values[~np.isnan(values)]
    out: dict[str, float | int | None] = {name: None for name, _ in QUANTILES}
    out.update(max=None, min=None, mean=None, count=int(values.size))
    if values.size == 0:
        return out
    for (name, _), value in zip(
        QUANTILES, quantiles(values, [q for _, q in QUANTILES]), strict=True
    ):
        out[name] = round(value, digits)
    out["max"] = round(float(values.max()), digits)
    out["min"] = round(float(values.min()), digits)
    out["mean"] = round(float(values.mean()), digits)
    return out
