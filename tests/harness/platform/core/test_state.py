"""The registry's naming rules (contract §1.1 unique Name, §2.1 stop by sid or name)."""

from __future__ import annotations

import pytest

from harness.core.api import FieldError
from harness.platform.core.state import Call, Conference, Registry
from tests.harness.platform.support import make_stream


def registry(keep_stopped: int = 100) -> Registry:
    return Registry(
        [Conference("c1", "one", 0.0), Conference("c2", "two", 0.0)],
        keep_stopped=keep_stopped,
    )


def test_conferences_are_listed_and_found() -> None:
    reg = registry()
    assert [c.sid for c in reg.conferences] == ["c1", "c2"]
    assert reg.conference("c2") == Conference("c2", "two", 0.0)
    assert reg.conference("nope") is None


def test_find_by_sid_only_within_its_conference() -> None:
    reg = registry()
    stream = make_stream("c1")
    assert reg.add(stream) is None
    assert reg.find("c1", stream.sid) is stream
    assert reg.find("c2", stream.sid) is None
    assert (reg.live_count, reg.total_count) == (1, 1)


def test_find_by_name_within_its_conference() -> None:
    reg = registry()
    stream = make_stream("c1", name="mine")
    reg.add(stream)
    assert reg.find("c1", "mine") is stream
    assert reg.find("c2", "mine") is None
    assert reg.find("c1", "other") is None


def test_a_live_name_is_unique_per_conference() -> None:
    reg = registry()
    first = make_stream("c1", name="dup")
    assert reg.add(first) is None
    assert reg.add(make_stream("c1", name="dup")) == FieldError(
        "Name", "Duplicated stream name"
    )
    assert reg.add(make_stream("c2", name="dup")) is None
    assert reg.add(make_stream("c1")) is None  # unnamed streams never clash
    assert reg.add(make_stream("c1")) is None
    assert (reg.live_count, reg.total_count) == (4, 4)


def test_stop_frees_the_name_and_keeps_the_stream_answerable() -> None:
    reg = registry()
    first = make_stream("c1", name="n")
    reg.add(first)
    assert reg.stop(first, 123.0) is True
    assert (first.status, first.updated_s) == ("stopped", 123.0)
    assert reg.stop(first, 456.0) is False
    assert first.updated_s == 123.0
    assert reg.find("c1", "n") is first
    second = make_stream("c1", name="n")
    assert reg.add(second) is None
    assert reg.find("c1", "n") is second  # the live one wins over the stopped one
    assert reg.find("c1", first.sid) is first
    assert reg.live() == [second]
    assert (reg.live_count, reg.total_count) == (1, 2)


def test_only_the_latest_stopped_streams_are_kept() -> None:
    reg = registry(keep_stopped=2)
    streams = [make_stream("c1", name=f"s{i}") for i in range(3)]
    for s in streams:
        reg.add(s)
        reg.stop(s, 1.0)
    assert reg.find("c1", streams[0].sid) is None
    assert reg.find("c1", "s0") is None
    assert reg.find("c1", "s1") is streams[1]
    assert reg.find("c1", streams[2].sid) is streams[2]


def test_forgetting_an_old_stream_keeps_a_newer_one_of_the_same_name() -> None:
    reg = registry(keep_stopped=1)
    old, new = make_stream("c1", name="n"), make_stream("c1", name="n")
    reg.add(old)
    reg.stop(old, 1.0)
    reg.add(new)
    reg.stop(new, 2.0)
    assert reg.find("c1", "n") is new


def test_caller_bugs_raise() -> None:
    reg = registry()
    with pytest.raises(KeyError):
        reg.add(make_stream("nope"))
    stream = make_stream("c1")
    reg.add(stream)
    with pytest.raises(KeyError):
        reg.add(stream)


def test_call_streams_are_scoped_to_their_call() -> None:
    reg = Registry(
        [Conference("c1", "one", 0.0)],
        [Call("CA1", "+1", "+2", 0.0), Call("CA2", "+1", "+3", 0.0)],
    )
    assert [c.sid for c in reg.calls] == ["CA1", "CA2"]
    assert reg.call("CA2") == Call("CA2", "+1", "+3", 0.0) and reg.call("c1") is None
    first = make_stream("", name="agent")
    first.call_sid, first.kind = "CA1", "call"
    assert first.parent_sid == "CA1"
    assert reg.add(first) is None
    again = make_stream("", name="agent")
    again.call_sid, again.kind = "CA1", "call"
    assert reg.add(again) == FieldError("Name", "Duplicated stream name")
    other = make_stream("", name="agent")
    other.call_sid, other.kind = "CA2", "call"
    assert reg.add(other) is None
    assert reg.find("CA1", "agent") is first and reg.find("CA2", "agent") is other
    assert reg.find("c1", "agent") is None
    stray = make_stream("", name="x")
    stray.call_sid, stray.kind = "CA9", "call"
    with pytest.raises(KeyError, match="unknown call CA9"):
        reg.add(stray)
    reg.stop(first, 1.0)
    assert reg.find("CA1", "agent") is first  # the stopped one still answers
