"""Numeric helpers shared by the report sections: distributions and ratios.

They take NumPy arrays, so a section can summarise tens of millions of frames
without a Python loop per row. Means are exact (the sum of every value is
computed exactly, then divided once), so a mean does not depend on the order
the values come in: a distribution collected in parts (:mod:`reports.samples`)
gives the same numbers as one array.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction
from typing import Any, Final

import numpy as np
import numpy.typing as npt


__all__ = [
    "NS_PER_MS",
    "QUANTILES",
    "distribution",
    "exact_sum",
    "mean",
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
Exact = int | Fraction
"""An exact sum: an int for integer values, a Fraction for floats."""

_BLOCK: Final = 1 << 20
"""Values summed at a time: small enough that no partial sum loses a bit."""


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
    out["mean"] = ms(mean(exact_sum(values), int(values.size)))
    return out


def exact_sum(values: Array) -> Exact | None:
    """The exact sum of integer or finite float ``values``, whatever their order.

    ``None`` when a float is infinite or NaN (callers drop NaN first). Integers
    are split into 32-bit halves and floats into their exponent and two 26-bit
    halves of the mantissa, so every partial sum fits its accumulator exactly.
    """
    values = np.asarray(values)
    if values.dtype.kind in "biu":
        if values.dtype.kind == "u" and values.size and int(values.max()) >= 2**63:
            return sum((int(v) for v in values.tolist()), 0)
        ints = values.astype(np.int64, copy=False)
        total = 0
        for lo in range(0, ints.size, _BLOCK):
            block = ints[lo : lo + _BLOCK]
            high = int(np.sum(block >> 32, dtype=np.int64))
            total += (high << 32) + int(np.sum(block & 0xFFFFFFFF, dtype=np.int64))
        return total
    floats = values.astype(np.float64, copy=False)
    if not np.isfinite(floats).all():
        return None
    # x = m 2**e with 0.5 <= |m| < 1, so x = (m 2**53) 2**(e - 53) exactly.
    scaled: dict[int, int] = {}
    for lo in range(0, floats.size, _BLOCK):
        mantissa, exponent = np.frexp(floats[lo : lo + _BLOCK])
        whole = (mantissa * 2.0**53).astype(np.int64)
        low_e = int(exponent.min())
        at = (exponent - low_e).astype(np.intp)
        # Below 2**47 per bin, float64 weights add integers exactly.
        upper = np.bincount(at, weights=whole >> 26)
        lower = np.bincount(at, weights=whole & ((1 << 26) - 1))
        for i in np.flatnonzero(upper.astype(bool) | lower.astype(bool)).tolist():
            e = low_e + i
            scaled[e] = scaled.get(e, 0) + (int(upper[i]) << 26) + int(lower[i])
    if not scaled:
        return 0
    base = min(scaled)
    numerator = sum(v << (e - base) for e, v in scaled.items())
    return Fraction(numerator) * Fraction(2) ** (base - 53)


def mean(total: Exact | None, count: int) -> float:
    """``total / count`` rounded once (NaN without a finite total or a count)."""
    if total is None or count <= 0:
        return math.nan
    return (
        float(Fraction(total) / count) if isinstance(total, Fraction) else total / count
    )


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
