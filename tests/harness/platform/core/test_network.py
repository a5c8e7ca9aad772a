"""The emulated network: a FIFO with delay, jitter, loss, duplicates, swaps and stalls."""

from __future__ import annotations

import random

from harness.platform.core.faults import Faults, Jitter
from harness.platform.core.network import Link


MS = 1_000_000


class Log:
    def __init__(self) -> None:
        self.events: list[tuple[str, int, str, int]] = []

    def __call__(self, track: str, chunk: int, kind: str, value_ns: int) -> None:
        self.events.append((track, chunk, kind, value_ns))


def link(faults: Faults, seed: int = 1) -> tuple[Link[object], Log]:
    log = Log()
    return Link(faults, random.Random(seed), log), log


def test_a_fixed_delay_holds_each_frame_that_long() -> None:
    net, log = link(Faults(delay_ns=5 * MS))
    assert net.push(1, "inbound", 1, 0)
    assert net.push(2, "inbound", 2, 20 * MS)
    assert net.next_due() == 5 * MS
    assert net.release(5 * MS - 1) == []
    assert net.release(5 * MS) == [(1, True)]
    assert net.next_due() == 25 * MS
    assert net.release(30 * MS) == [(2, True)]
    assert net.next_due() is None and len(net) == 0
    assert log.events == []  # delay is not an event: it shows in wire_ns


def test_jitter_never_reorders_the_stream() -> None:
    net, _ = link(Faults(jitter=Jitter("exponential", 30 * MS)), seed=7)
    for i in range(200):
        net.push(i, "inbound", i + 1, i * MS)  # frames 1 ms apart, jitter up to ~100 ms
    released = [item for item, _ in net.release(10**12)]
    assert released == list(range(200))


def test_loss_duplicate_and_stall_are_logged() -> None:
    net, log = link(Faults(loss=1.0))
    assert not net.push(1, "inbound", 3, 0)
    assert log.events == [("inbound", 3, "loss", 0)] and len(net) == 0
    net, log = link(Faults(duplicate=1.0))
    net.push(1, "outbound", 4, 0)
    assert net.release(0) == [(1, True), (1, False)]
    assert log.events == [("outbound", 4, "duplicate", 0)]
    net, log = link(Faults(stall=1.0, stall_ns=200 * MS))
    net.push(1, "inbound", 1, 0)
    assert log.events == [("inbound", 1, "stall", 200 * MS)]
    assert net.next_due() == 200 * MS


def test_a_stall_holds_every_frame_behind_it() -> None:
    faults = Faults(stall=0.5, stall_ns=100 * MS)
    net, log = link(faults, seed=3)
    dues = []
    for chunk in range(1, 21):
        net.push(chunk, "inbound", chunk, chunk * 20 * MS)
        dues.append(net._queue[-1][0])
    first_stall = log.events[0][1]
    assert dues == sorted(dues)
    assert dues[first_stall - 1] == first_stall * 20 * MS + 100 * MS


def test_reorder_swaps_a_frame_with_the_next_of_its_track() -> None:
    net, log = link(Faults(reorder=1.0))
    net.push("in-1", "inbound", 1, 0)  # held
    net.push("out-1", "outbound", 1, 0)  # held too (its own track)
    net.push("in-2", "inbound", 2, 20 * MS)  # released, then in-1
    net.push("out-2", "outbound", 2, 20 * MS)
    assert [i for i, _ in net.release(20 * MS)] == ["in-2", "in-1", "out-2", "out-1"]
    assert log.events == [("inbound", 1, "reorder", 0), ("outbound", 1, "reorder", 0)]
    net.push("in-3", "inbound", 3, 40 * MS)  # held: the stream ends before in-4
    assert net.next_due() is None and len(net) == 1
    assert net.drain() == [("in-3", True)]
    assert len(log.events) == 2  # never swapped, so never logged


def test_drain_returns_everything_in_wire_order() -> None:
    net, _ = link(Faults(delay_ns=50 * MS))
    for chunk in range(1, 4):
        net.push(chunk, "inbound", chunk, chunk * 20 * MS)
    assert net.drain() == [(1, True), (2, True), (3, True)]
    assert len(net) == 0


def test_same_seed_same_events() -> None:
    faults = Faults(loss=0.1, duplicate=0.1, reorder=0.1, stall=0.05, stall_ns=MS)
    runs = []
    for _ in range(2):
        net, log = link(faults, seed=11)
        for chunk in range(1, 500):
            net.push(chunk, "inbound", chunk, chunk * 20 * MS)
        runs.append(log.events)
    assert runs[0] == runs[1]
    kinds = {kind for _, _, kind, _ in runs[0]}
    assert kinds == {"loss", "duplicate", "reorder", "stall"}
