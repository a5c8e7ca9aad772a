"""Record times of several hosts on one clock, through each producer's anchor.

Every record time is its producer's CLOCK_MONOTONIC (:mod:`harness.core.records`):
exact between producers of one host, and of unrelated origins across hosts (each
machine's monotonic clock starts at its own boot). Each producer also writes one
``producers`` row pairing that clock with the wall clock (``wall_ns``,
``mono_ns``). When the records come from more than one host, the report moves
every instant of a producer's parts onto the wall clock (UTC),
``t + (wall_ns - mono_ns)``, so a difference of two hosts' times is as right as
their clock sync (NTP, PTP). On one host nothing moves: monotonic stays exact.

A producer with no anchor row cannot be moved; a multi-host plan names it in
:attr:`ClockPlan.unanchored`, and the report compares none of its times across
hosts (latency "not checked", never a wrong number).

Which ``*_ns`` columns are instants (moved) and which are durations (never
moved) is decided per table here, next to nothing else: a test checks every
``*_ns`` column of :data:`harness.core.records.TABLES` is in exactly one of
:data:`INSTANTS` and :data:`NOT_INSTANTS`.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping
from typing import Final

import numpy as np
import numpy.typing as npt


__all__ = [
    "INSTANTS",
    "NOT_INSTANTS",
    "ClockPlan",
    "plan",
    "producer_of_part",
    "to_common",
]

INSTANTS: Final[dict[str, frozenset[str]]] = {
    "requests": frozenset({"due_ns", "sent_ns", "done_ns"}),
    "platform_streams": frozenset(
        {"created_ns", "connected_ns", "first_due_ns", "stopped_ns"}
    ),
    "sent_frames": frozenset({"due_ns", "sent_ns", "wire_ns"}),
    "frames": frozenset({"arrival_ns"}),
    "streams": frozenset(
        {"connected_ns", "start_ns", "first_media_ns", "stop_ns", "closed_ns"}
    ),
    "violations": frozenset({"at_ns"}),
    "health": frozenset({"at_ns"}),
    "impairments": frozenset({"at_ns"}),
    "callbacks": frozenset({"at_ns"}),
}
"""Per table, the columns that are points on the producer's monotonic clock (0:
none, e.g. a socket never connected, a frame lost before the wire)."""

NOT_INSTANTS: Final[dict[str, frozenset[str]]] = {
    "producers": frozenset({"wall_ns", "mono_ns"}),  # the anchor itself
    "frames": frozenset({"jitter_ns"}),
    "health": frozenset(
        {
            "interval_ns",
            "cpu_ns",
            "loop_cpu_ns",
            "lag_p99_ns",
            "lag_max_ns",
            "gc_total_ns",
            "gc_max_ns",
        }
    ),
    "impairments": frozenset({"value_ns"}),
}
"""Per table, the ``*_ns`` columns that are durations (or the anchor): never moved."""

_PART: Final = re.compile(r"^(?P<producer>.+)-\d+\.parquet$")
"""``<producer>-<n>.parquet`` (harness/io/sink.py names every part so)."""


def producer_of_part(name: str) -> str | None:
    """The producer that wrote the part file ``name`` (``None``: not a part name)."""
    match = _PART.match(name)
    return match.group("producer") if match else None


@dataclasses.dataclass(frozen=True)
class ClockPlan:
    """Which clock the report compares times on, and each producer's shift to it.

    ``hosts``: distinct non-empty host names among the anchors. With at most
    one, every time stays monotonic (:meth:`offset` is 0 for everyone).
    """

    hosts: int = 1
    offsets: Mapping[str, int] = dataclasses.field(default_factory=dict)
    """Producer -> ``wall_ns - mono_ns`` of its anchor (only when :attr:`aligned`)."""
    unanchored: frozenset[str] = frozenset()
    """Producers with parts and no usable anchor (only when :attr:`aligned`)."""

    @property
    def aligned(self) -> bool:
        """Times are moved to the wall clock (records of more than one host)."""
        return self.hosts > 1

    def offset(self, producer: str | None) -> int | None:
        """What to add to ``producer``'s instants; ``None``: it cannot be moved."""
        if not self.aligned:
            return 0
        if producer is None:
            return None
        return self.offsets.get(producer)

    def comparable(self, producers: Iterable[str]) -> bool:
        """Whether the times of ``producers``' parts can be compared with others'."""
        return not self.aligned or not (self.unanchored & set(producers))

    def label(self) -> str:
        """The clock basis, for the report's ``basis`` (see reports/frames.py)."""
        if not self.aligned:
            return "send-log"
        if self.unanchored:
            return (
                f"not checked: clocks of {self.hosts} hosts, and no clock anchor "
                f"(producers row) for {', '.join(sorted(self.unanchored))}"
            )
        return (
            f"send-log; clocks of {self.hosts} hosts aligned by their wall clocks: "
            "as accurate as their sync (NTP/PTP)"
        )


def plan(
    anchors: Iterable[tuple[str, str, int, int]], producers: Iterable[str]
) -> ClockPlan:
    """The clock plan of a run.

    Args:
        anchors: ``(producer, host, wall_ns, mono_ns)`` per ``producers`` row.
        producers: every producer that wrote a part (from the part names).

    A producer whose rows name more than one host (two machines left at one
    ``--producer``) has no usable anchor: which part is whose is unknown.
    """
    rows = list(anchors)
    hosts = len({host for _, host, _, _ in rows if host})
    if hosts <= 1:
        return ClockPlan(hosts=max(hosts, 1))
    seen: dict[str, tuple[str, int]] = {}
    ambiguous: set[str] = set()
    for producer, host, wall, mono in rows:
        if wall <= 0 or mono <= 0:
            continue
        if producer in seen and seen[producer][0] != host:
            ambiguous.add(producer)
        seen.setdefault(producer, (host, wall - mono))
    offsets = {p: shift for p, (_, shift) in seen.items() if p not in ambiguous}
    unanchored = frozenset(p for p in producers if p not in offsets)
    return ClockPlan(hosts=hosts, offsets=offsets, unanchored=unanchored)


def to_common(values: npt.NDArray[np.int64], offset: int) -> npt.NDArray[np.int64]:
    """``values`` (one part's instants) moved by ``offset``; 0 (none) stays 0.

    Vectorised: one pass per column per part, never a loop per row.
    """
    if not offset:
        return values
    return np.where(values > 0, values + np.int64(offset), values)
