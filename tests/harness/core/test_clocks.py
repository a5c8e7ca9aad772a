"""Times of several hosts on one clock: identity on one host, true latency across two."""

from __future__ import annotations

import numpy as np
from hypothesis import given, strategies as st

from harness.core.clocks import (
    INSTANTS,
    NOT_INSTANTS,
    plan,
    producer_of_part,
    to_common,
)
from harness.core.records import TABLES


MONO = st.integers(min_value=1, max_value=10**15)
"""A monotonic reading (ns): up to ~11 days of uptime, any origin."""
WALL = st.integers(min_value=10**18, max_value=2 * 10**18)
TIMES = st.lists(st.integers(min_value=1, max_value=10**12), min_size=1, max_size=50)


def test_every_ns_column_is_either_an_instant_or_not() -> None:
    """A new ``*_ns`` column must be decided here, or the report compares it raw."""
    for table, columns in TABLES.items():
        timed = {name for name, _ in columns if name.endswith("_ns")}
        instants = INSTANTS.get(table, frozenset())
        others = NOT_INSTANTS.get(table, frozenset())
        assert not instants & others, table
        assert instants | others == timed, table


def test_part_names_give_their_producer() -> None:
    assert producer_of_part("receiver-0-000005.parquet") == "receiver-0"
    assert producer_of_part("scenario-h1-42-000001.parquet") == "scenario-h1-42"
    assert producer_of_part("platform.parquet") is None


@given(anchor=st.tuples(WALL, MONO), times=TIMES)
def test_one_host_is_the_identity(anchor: tuple[int, int], times: list[int]) -> None:
    """Records of one host stay monotonic: nothing moves, differences are exact."""
    wall, mono = anchor
    clock = plan([("platform-1", "h", wall, mono), ("receiver-1", "h", wall, mono)], [])
    assert not clock.aligned
    assert clock.label() == "send-log"
    values = np.array(times, np.int64)
    for producer in ("platform-1", "receiver-1", "no-anchor"):
        shift = clock.offset(producer)
        assert shift == 0
        moved = to_common(values, shift)
        assert (np.diff(moved) == np.diff(values)).all()


@given(
    wall=WALL,
    mono_a=MONO,
    mono_b=MONO,
    sent=st.lists(st.integers(min_value=0, max_value=10**12), min_size=1, max_size=50),
    transit=st.integers(min_value=0, max_value=10**10),
)
def test_two_hosts_give_the_true_latency(
    wall: int, mono_a: int, mono_b: int, sent: list[int], transit: int
) -> None:
    """Two hosts whose monotonic clocks read anything at one wall instant: arrival
    minus send on the common clock is the transit, whatever the offsets."""
    clock = plan(
        [("platform-1", "a", wall, mono_a), ("receiver-1", "b", wall, mono_b)],
        ["platform-1", "receiver-1"],
    )
    assert clock.aligned and clock.hosts == 2 and not clock.unanchored
    since = np.array(sent, np.int64)  # ns after the anchors' wall instant
    sent_a = mono_a + since
    arrival_b = mono_b + since + transit
    latency = to_common(arrival_b, clock.offset("receiver-1") or 0) - to_common(
        sent_a, clock.offset("platform-1") or 0
    )
    assert (latency == transit).all()
    assert clock.label() == (
        "send-log; clocks of 2 hosts aligned by their wall clocks: "
        "as accurate as their sync (NTP/PTP)"
    )


def test_none_stays_none() -> None:
    """0 is "never" (a frame lost before the wire): it does not become a time."""
    moved = to_common(np.array([0, 5], np.int64), 100)
    assert moved.tolist() == [0, 105]


def test_a_producer_without_an_anchor_is_not_compared() -> None:
    clock = plan(
        [("platform-1", "a", 10**18, 5), ("receiver-1", "b", 10**18, 9)],
        ["platform-1", "receiver-1", "receiver-2"],
    )
    assert clock.offset("receiver-2") is None
    assert clock.unanchored == {"receiver-2"}
    assert clock.comparable(["platform-1", "receiver-1"])
    assert not clock.comparable(["platform-1", "receiver-2"])
    assert clock.label().startswith("not checked: clocks of 2 hosts")
    assert "receiver-2" in clock.label()


def test_one_name_on_two_hosts_has_no_anchor() -> None:
    """Two machines left at one producer name: whose part is whose is unknown."""
    clock = plan(
        [("rx", "a", 10**18, 5), ("rx", "b", 10**18, 9), ("p", "a", 10**18, 5)],
        ["rx", "p"],
    )
    assert clock.unanchored == {"rx"}
