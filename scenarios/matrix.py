"""The request space as data: which start request to send next.

Eight dimensions (:data:`harness.core.profiles.profile.DIMENSIONS`): codec x track x
custom-parameter count x parameter size x ``StreamRealTime`` x bearer token x
status callback x stop style. :class:`Matrix` walks every cell of their product
once per cycle, each value in proportion to its weight. Unlike an odometer
(where the last dimension changes once a cycle, thousands of requests in),
every dimension cycles through its own values at its own period: request
``i`` takes value ``i mod n`` of an n-valued dimension, shifted by one each
time the dimensions before it have gone through all their combinations, which
is what makes the whole walk visit every cell exactly once. So a few seconds'
run already sends every value of every dimension, and the codec varies fastest.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Final, Literal

from harness.core.profiles.profile import DIMENSIONS, MatrixSpec


__all__ = [
    "CACHED_CYCLE",
    "LONG_NAME",
    "LONG_VALUE",
    "Combo",
    "Matrix",
    "StopBy",
    "custom_parameters",
    "parse_list",
    "weighted_cycle",
]

StopBy = Literal["sid", "name"]

CACHED_CYCLE: Final = 20_000
"""Cycles up to this many cells (the built-in profiles: 1 to 6,048) keep every
cell by position: ~2 MB at most."""

LONG_NAME: Final = 48
LONG_VALUE: Final = 440
"""Long parameters: name + value stay under 500 characters, Twilio's documented
limit (contract §3); values hold characters that form encoding must escape."""
_SPECIALS: Final = " &=+%/?#;:,'\"<>äé€"


@dataclasses.dataclass(frozen=True, slots=True)
class Combo:
    """One cell of the matrix: what a single start request asks for."""

    codec: str
    track: str
    n_params: int
    stop_by: StopBy
    long_params: bool = False
    real_time: bool | None = None
    """``StreamRealTime``; ``None`` leaves the field out."""
    bearer: bool = True
    callback: bool = False


def weighted_cycle(values: Sequence[str], weights: Sequence[int]) -> list[str]:
    """Each value ``weight`` times, interleaved as evenly as possible (smooth WRR)."""
    total = sum(weights)
    current = [0] * len(values)
    out: list[str] = []
    for _ in range(total):
        for i, w in enumerate(weights):
            current[i] += w
        best = max(range(len(values)), key=lambda i: (current[i], -i))
        current[best] -= total
        out.append(values[best])
    return out


class Matrix:
    """Walk the weighted product of the dimensions: ``combo(i)`` for i = 0, 1, ..."""

    def __init__(self, spec: MatrixSpec) -> None:
        self.lists = [
            weighted_cycle(
                spec.values[dim], [spec.weight(dim, v) for v in spec.values[dim]]
            )
            for dim in DIMENSIONS
        ]
        sizes = [len(values) for values in self.lists]
        self._inner = [math.prod(sizes[:j]) for j in range(len(sizes))]
        self._lcm = [math.lcm(p, n) for p, n in zip(self._inner, sizes, strict=True)]
        self.cycle = math.prod(sizes)
        """Requests after which every cell has been sent in its weighted share."""
        self._combos: dict[tuple[str, ...], Combo] = {}
        self._at: dict[int, Combo] = {}
        """``combo`` by position in the cycle, for cycles of up to
        :data:`CACHED_CYCLE` cells: the walk's arithmetic cost ~3 µs a start."""

    def digits(self, i: int) -> list[int]:
        """The index into each dimension's weighted list for request ``i``.

        Dimension j of size n after dimensions of ``P`` combinations takes
        ``(x + x // lcm(P, n)) mod n`` and leaves ``x mod P`` to the ones
        before it: within each lcm-long block the pairs are those of the
        Chinese remainder theorem, and the per-block shift reaches the others.
        """
        x = i % self.cycle
        out = [0] * len(self.lists)
        for j in range(len(self.lists) - 1, 0, -1):
            n = len(self.lists[j])
            out[j] = (x + x // self._lcm[j]) % n
            x %= self._inner[j]
        out[0] = x
        return out

    def combo(self, i: int) -> Combo:
        x = i % self.cycle
        cached = self._at.get(x)
        if cached is None:
            cached = self._combo_at(x)
            if self.cycle <= CACHED_CYCLE:
                self._at[x] = cached
        return cached

    def _combo_at(self, i: int) -> Combo:
        key = tuple(
            values[d] for values, d in zip(self.lists, self.digits(i), strict=True)
        )
        cached = self._combos.get(key)
        if cached is None:
            cached = self._combos[key] = _combo(key)
        return cached


def _combo(key: Sequence[str]) -> Combo:
    codec, track, params, size, real_time, bearer, callback, stop_by = key
    return Combo(
        codec=codec,
        track=track,
        n_params=int(params),
        stop_by="name" if stop_by == "name" else "sid",
        long_params=size == "long",
        real_time=None if real_time == "omit" else real_time == "true",
        bearer=bearer == "on",
        callback=callback == "on",
    )


def custom_parameters(n: int, long: bool = False) -> list[tuple[str, str]]:
    """``n`` distinct (name, value) pairs; long ones fill the size limit.

    They are the same for every request of a cell, so their encoding and
    digest are computed once; the correlation parameter tells requests apart.
    """
    if not long:
        return [(f"param{i}", f"value-{i}") for i in range(1, n + 1)]
    out = []
    for i in range(1, n + 1):
        name = f"p{i:02d}-" + "n" * (LONG_NAME - 4)
        head = f"v{i:02d}{_SPECIALS}"
        value = head + "x" * (LONG_VALUE - len(head))
        out.append((name, value))
    return out


def parse_list(text: str) -> list[str]:
    """Split a comma-separated option value, dropping blanks."""
    return [part.strip() for part in text.split(",") if part.strip()]
