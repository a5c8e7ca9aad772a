"""A whole-table property over the lifecycle (h2's test_state_machines habit)."""

from __future__ import annotations

from hypothesis import given, strategies as st

from harness.core.transitions import TRANSITIONS, State, allowed, next_state


EVENTS = ["connected", "start", "media", "dtmf", "mark", "stop", "clear", "bogus"]


@given(st.sampled_from(list(State)), st.sampled_from(EVENTS))
def test_every_pair_moves_to_a_state_or_is_refused(state, event) -> None:
    following = next_state(state, event)
    assert (following is None) == (event not in allowed(state))
    assert following is None or following in TRANSITIONS


def test_the_documented_order() -> None:
    state = State.AWAIT_CONNECTED
    for event in ("connected", "start", "media", "dtmf", "mark", "media", "stop"):
        nxt = next_state(state, event)
        assert nxt is not None
        state = nxt
    assert state is State.STOPPED and allowed(state) == ()
