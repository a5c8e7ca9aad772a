"""Distributions too large to hold: values kept in memory up to a budget, then on disk.

A 60 M-frame run has six per-frame distributions of 60 M values each (five
per track, plus the sender's pacing), more than the report may hold at once.
:class:`Samples` collects one distribution a part at a time; while the
:class:`SamplePool` they share stays under its budget, the parts stay in
memory and :func:`summarise` is exactly :func:`reports.stats.distribution` of
all of them. Past the budget the largest sample's values go to a writer
thread, which sorts them into one run (uint32 offsets from its least value
when it spans less than 2**32), notes the run's count, min, max and exact sum,
and appends it to the sample's file. Order statistics then come from
bisecting the value range with binary searches in the memory-mapped runs (a
few pages each), so a summary reads almost nothing back. Quantiles
interpolate between the exact order statistics as :func:`numpy.quantile`
does, and the mean is the exact sum divided once, so every number equals the
in-memory one.
"""

from __future__ import annotations

import collections
import dataclasses
import tempfile
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from reports.stats import QUANTILES, Exact, distribution, exact_sum, mean, ms


__all__ = [
    "DEFAULT_BUDGET",
    "SamplePool",
    "Samples",
    "order_keys",
    "quantiles_of",
    "summarise",
    "values_of",
]

DEFAULT_BUDGET: Final = 256 << 20
"""Bytes of values a report holds in memory before it spills to sorted runs."""

Array = npt.NDArray[Any]
Keys = npt.NDArray[np.uint64]
_SIGN: Final = np.uint64(1 << 63)
_NARROW: Final = 2**32 - 1


def order_keys(values: Array) -> Keys:
    """uint64 keys in the order of int64 or float64 ``values`` (no NaN).

    Strictly increasing with the value, except that ``-0.0`` sits just below
    ``0.0`` (:class:`Samples` stores no ``-0.0``).
    """
    values = np.asarray(values)
    bits = values.view(np.uint64)
    if values.dtype.kind == "i":
        return bits ^ _SIGN
    return np.where(bits >= _SIGN, ~bits, bits | _SIGN)


def values_of(keys: Keys, dtype: np.dtype[Any]) -> Array:
    """The values of :func:`order_keys` ``keys`` in ``dtype`` (the inverse)."""
    keys = np.asarray(keys, np.uint64)
    if dtype.kind == "i":
        return (keys ^ _SIGN).view(np.int64)
    return np.where(keys >= _SIGN, keys ^ _SIGN, ~keys).view(np.float64)


class SamplePool:
    """The memory budget a report's :class:`Samples` share, and where they spill.

    Spilling (sort, narrow, write) runs on one background thread, so the
    report goes on computing meanwhile; values count against the budget until
    they are written, and a caller that outruns the writer waits for it. Use
    as a context manager: leaving removes the spill files.
    """

    def __init__(self, budget_bytes: int = DEFAULT_BUDGET) -> None:
        self.budget_bytes = budget_bytes
        self.held = 0
        """Bytes of values in memory, held or being spilled, of all samples."""
        self._samples: list[Samples] = []
        self._dir: tempfile.TemporaryDirectory[str] | None = None
        self._lock = threading.Lock()
        self._writer: ThreadPoolExecutor | None = None
        self._pending: collections.deque[Future[None]] = collections.deque()

    def samples(self, dtype: npt.DTypeLike) -> Samples:
        """A new, empty distribution of ``dtype`` (int64 or float64) values."""
        sample = Samples(self, dtype, len(self._samples))
        self._samples.append(sample)
        return sample

    def directory(self) -> Path:
        if self._dir is None:
            self._dir = tempfile.TemporaryDirectory(prefix="streamload-samples-")
        return Path(self._dir.name)

    def wait(self) -> None:
        """Until every spill so far is written (raising what a spill raised)."""
        while self._pending:
            self._pending.popleft().result()

    def close(self) -> None:
        try:
            self.wait()
        finally:
            if self._writer is not None:
                self._writer.shutdown(wait=True, cancel_futures=True)
                self._writer = None
            for sample in self._samples:
                sample.release()
            if self._dir is not None:
                self._dir.cleanup()
                self._dir = None

    def __enter__(self) -> SamplePool:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _submit(self, job: Callable[[], None]) -> None:
        if self._writer is None:
            self._writer = ThreadPoolExecutor(1, thread_name_prefix="samples")
        self._pending.append(self._writer.submit(job))
        while len(self._pending) > 1 and self._pending[0].done():
            self._pending.popleft().result()

    def _release(self, nbytes: int) -> None:
        with self._lock:
            self.held -= nbytes

    def _charge(self, nbytes: int) -> None:
        with self._lock:
            self.held += nbytes
        while self.held > self.budget_bytes:
            biggest = max(self._samples, key=lambda s: s.held_bytes)
            if biggest.held_bytes:
                biggest.spill()
            elif self._pending:
                self._pending.popleft().result()  # outran the writer: wait
            else:
                return


class Samples:
    """The values of one distribution, added a part at a time.

    Floats drop NaN (as :func:`reports.stats.distribution` does) and store
    ``-0.0`` as ``0.0``. Once spilled, count, min, max and the exact sum are
    kept per run, so only the quantiles need the values themselves.
    """

    def __init__(self, pool: SamplePool, dtype: npt.DTypeLike, number: int) -> None:
        self.pool = pool
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.dtype(np.int64), np.dtype(np.float64)):
            raise TypeError(f"samples hold int64 or float64, not {self.dtype}")
        self.count = 0
        self.held_bytes = 0
        """Bytes held here, not yet handed to the writer."""
        self._held: list[Array] = []
        self._file = f"{number}.bin"
        self._handed = False
        """Some values went to the writer: summaries come from the runs."""
        self._runs: list[_Run] = []
        self._stored = 0
        """Bytes in the file."""
        self._settled: list[tuple[Exact | None, float, float]] | None = None
        """Exact sum, min and max of each held array once :meth:`settle` sorted
        them (``None``: not settled since the last :meth:`add`)."""

    @property
    def spilled(self) -> bool:
        return self._handed

    @property
    def settled(self) -> bool:
        """Held values sorted by :meth:`settle` (and nothing added since)."""
        return self._settled is not None

    def add(self, values: Array, *, copy: bool = True) -> None:
        """Add ``values``: copied, unless ``copy`` is false and the caller hands
        over an array it will not use again (it may then be changed in place)."""
        values = np.asarray(values)
        mine = not copy and values.dtype == self.dtype
        if self.dtype.kind == "f":
            values = values.astype(np.float64, copy=False)
            missing = np.isnan(values)
            if missing.any():
                values, mine = values[~missing], True
            # -0.0 == 0.0 but prints "-0.0": store one zero
            values = np.add(values, 0.0, out=values if mine else None)
        elif not mine:
            values = np.array(values, dtype=np.int64, copy=True)
        if not values.size:
            return
        self._settled = None
        self.count += int(values.size)
        self._held.append(values)
        self.held_bytes += values.nbytes
        self.pool._charge(values.nbytes)

    def spill(self) -> None:
        """Hand the held values to the writer: one sorted run at the end of the file."""
        if not self._held:
            return
        parts, self._held = self._held, []
        nbytes, self.held_bytes = self.held_bytes, 0
        self._handed = True
        self.pool._submit(lambda: self._write(parts, nbytes))

    def _write(self, parts: list[Array], nbytes: int) -> None:
        """Sort ``parts`` into one run and append it (on the writer thread).

        An integer run spanning less than 2**32 is stored as uint32 offsets
        from its least value: half the bytes for durations in ns.
        """
        try:
            run = parts[0] if len(parts) == 1 else np.concatenate(parts)
            parts.clear()
            run.sort()
            total = exact_sum(run)
            low, high = run[0].item(), run[-1].item()
            base: int | None = None
            if run.dtype.kind == "i" and high - low < _NARROW:
                base = low
                run -= base
                run = run.astype(np.uint32)
            with (self.pool.directory() / self._file).open("ab") as out:
                run.tofile(out)
                if run.nbytes % 8:
                    out.write(bytes(8 - run.nbytes % 8))  # keep every run 8-aligned
            self._runs.append(
                _Run(self._stored, int(run.size), run.dtype, base, total, low, high)
            )
            self._stored += -(-run.nbytes // 8) * 8
        finally:
            self.pool._release(nbytes)

    def release(self) -> None:
        """Forget the held values (the pool is closing)."""
        self.pool._release(self.held_bytes)
        self._held, self.held_bytes = [], 0

    def held(self) -> list[Array]:
        """The values in memory, in no particular order (sorted once settled)."""
        return list(self._held)

    def settle(self) -> None:
        """Sort the held values once, in place, for every summary to come.

        A report summarises one sample several times: alone (a track), in
        unions (a codec, the whole run beside each capacity level) and for the
        latency CDF. Partitioning the values afresh for each costs more than
        sorting them once; sorted, each summary reads its order statistics by
        binary search (as from spilled runs) and the exact sum, min and max of
        each array are kept. Small samples are merged into one array first
        (fewer runs to search); one larger than an eighth of the pool's budget
        is sorted part by part, so settling holds no second copy of it.
        """
        if self._handed or self._settled is not None:
            return
        if len(self._held) > 1 and self.held_bytes <= self.pool.budget_bytes // 8:
            self._held = [np.concatenate(self._held)]
        for values in self._held:
            values.sort()
        self._settled = [(exact_sum(v), v[0].item(), v[-1].item()) for v in self._held]

    def sorted_runs(self) -> list[_Sorted]:
        """Every value as sorted runs: the spilled ones, else the settled arrays."""
        if self._handed:
            return self.runs()
        self.settle()
        return [_Sorted(values, None) for values in self._held]

    def facts(self) -> tuple[Exact | None, float, float]:
        """Exact sum, min and max (after :meth:`sorted_runs`; not empty)."""
        if self._handed:
            return self.extremes()
        assert self._settled is not None
        totals = [t for t, _, _ in self._settled]
        total = None if any(t is None for t in totals) else sum(t for t in totals if t)
        return (
            total,
            min(lo for _, lo, _ in self._settled),
            max(hi for _, _, hi in self._settled),
        )

    def runs(self) -> list[_Sorted]:
        """The sorted runs on disk, memory-mapped (only the pages read are loaded).

        Spills everything held first, and waits for the writer.
        """
        self.spill()
        self.pool.wait()
        if not self._runs:
            return []
        whole = np.memmap(self.pool.directory() / self._file, np.uint8, mode="r")
        return [
            _Sorted(
                whole[r.offset : r.offset + r.size * r.dtype.itemsize].view(r.dtype),
                r.base,
            )
            for r in self._runs
        ]

    def extremes(self) -> tuple[Exact | None, float, float]:
        """Exact sum, min and max of the spilled values (after :meth:`runs`)."""
        totals = [r.total for r in self._runs]
        total = None if any(t is None for t in totals) else sum(t for t in totals if t)
        return (
            total,
            min(r.low for r in self._runs),
            max(r.high for r in self._runs),
        )


@dataclasses.dataclass(frozen=True)
class _Run:
    """Where one sorted run sits in its sample's file, and how it is stored."""

    offset: int
    size: int
    dtype: np.dtype[Any]
    base: int | None
    """Stored as offsets from this value (uint32), or ``None``: as the values."""
    total: Exact | None
    low: float
    high: float


@dataclasses.dataclass(frozen=True)
class _Sorted:
    """A sorted run, read in place."""

    values: Array
    base: int | None

    def at_or_below(self, needles: Array) -> npt.NDArray[np.int64]:
        """How many values are at most each needle (of the sample's dtype)."""
        counts: npt.NDArray[np.int64]
        if self.base is None:
            counts = np.searchsorted(self.values, needles, side="right")
            return counts.astype(np.int64, copy=False)
        # Compare against the ends first: a needle far from the base would
        # overflow the subtraction.
        counts = np.where(needles >= self.last(), self.values.size, 0)
        inside = np.flatnonzero((needles >= self.base) & (needles < self.last()))
        offsets = (needles[inside] - self.base).astype(np.uint32)
        counts[inside] = np.searchsorted(self.values, offsets, side="right")
        return counts

    def first(self) -> int | float:
        value: int | float = self.values[0].item()
        return value if self.base is None else self.base + value

    def last(self) -> int | float:
        value: int | float = self.values[-1].item()
        return value if self.base is None else self.base + value


def summarise(parts: Sequence[Samples]) -> dict[str, float | int | None]:
    """:func:`reports.stats.distribution` of the union of ``parts``, exactly."""
    if not any(p.spilled or p.settled for p in parts):
        return distribution(_held(parts))
    n = sum(p.count for p in parts)
    if not n:
        return distribution(np.zeros(0, np.int64))
    out: dict[str, float | int | None] = {name: None for name, _ in QUANTILES}
    values = quantiles_of(parts, [q for _, q in QUANTILES])
    for (name, _), value in zip(QUANTILES, values, strict=True):
        out[name] = ms(value)
    extremes = [p.facts() for p in parts if p.count]
    totals = [t for t, _, _ in extremes]
    total = None if any(t is None for t in totals) else sum(t for t in totals if t)
    out.update(
        max=ms(float(max(h for _, _, h in extremes))),
        min=ms(float(min(lo for _, lo, _ in extremes))),
        mean=ms(mean(total, n)),
        count=n,
    )
    return out


def quantiles_of(parts: Sequence[Samples], qs: Sequence[float]) -> list[float]:
    """:func:`reports.stats.quantiles` of the union of ``parts`` (not all empty)."""
    if not any(p.spilled or p.settled for p in parts):
        return [float(v) for v in np.quantile(_held(parts), list(qs))]
    runs = [run for part in parts for run in part.sorted_runs()]  # every value
    n = sum(int(run.values.size) for run in runs)
    # The ranks and weights numpy.quantile's "linear" method uses
    # (numpy/lib/_function_base_impl.py: _quantile, _get_indexes, _lerp).
    virtual = (n - 1) * np.asarray(list(qs), np.float64)
    previous = np.floor(virtual).astype(np.intp)
    following = previous + 1
    above = virtual >= n - 1
    previous[above] = -1
    following[above] = -1
    gamma = np.asarray(virtual - previous, np.float64)
    wanted = np.unique(np.concatenate([previous, following]) % n)
    found = _order_statistics(runs, wanted.astype(np.int64), parts[0].dtype)
    a = found[np.searchsorted(wanted, previous % n)]
    b = found[np.searchsorted(wanted, following % n)]
    diff = b - a
    result = np.add(a, diff * gamma)
    np.subtract(
        b,
        diff * (1 - gamma),
        out=result,
        where=gamma >= 0.5,
        casting="unsafe",
        dtype=type(result.dtype),
    )
    return [float(v) for v in result]


def _held(parts: Sequence[Samples]) -> Array:
    held = [a for p in parts for a in p.held()]
    if not held:
        return np.empty(0, parts[0].dtype if parts else np.float64)
    return held[0] if len(held) == 1 else np.concatenate(held)


def _order_statistics(
    runs: Sequence[_Sorted], ranks: npt.NDArray[np.int64], dtype: np.dtype[Any]
) -> Array:
    """The values at 0-based ``ranks`` of the sorted union of the sorted ``runs``.

    For each rank, bisect the key range for the smallest key whose value has
    more than ``rank`` values at or below it: that value is the order
    statistic. Each step is one binary search per run for all ranks at once.
    """
    runs = [r for r in runs if r.values.size]
    ends = np.array([[r.first(), r.last()] for r in runs], dtype)
    low = np.full(ranks.size, order_keys(ends[:, 0]).min(), np.uint64)
    high = np.full(ranks.size, order_keys(ends[:, 1]).max(), np.uint64)
    while True:
        open_ = np.flatnonzero(low < high)
        if not open_.size:
            return values_of(low, dtype)
        lo, hi = low[open_], high[open_]
        mid = lo + (hi - lo) // np.uint64(2)
        needles = values_of(mid, dtype)
        at_or_below = np.zeros(open_.size, np.int64)
        for run in runs:
            at_or_below += run.at_or_below(needles)
        enough = at_or_below > ranks[open_]
        high[open_] = np.where(enough, mid, hi)
        low[open_] = np.where(enough, lo, mid + np.uint64(1))
