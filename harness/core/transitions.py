"""The stream lifecycle as data (h11's "Rule 1": every transition lives here).

contract §5.2: "Order: connected, start, then media/dtmf/mark messages, then stop."
"""

from __future__ import annotations

import enum
from typing import Final


__all__ = ["TRANSITIONS", "State", "allowed", "next_state"]


class State(enum.Enum):
    AWAIT_CONNECTED = "await-connected"
    AWAIT_START = "await-start"
    STREAMING = "streaming"
    STOPPED = "stopped"


TRANSITIONS: Final[dict[State, dict[str, State]]] = {
    State.AWAIT_CONNECTED: {"connected": State.AWAIT_START},
    State.AWAIT_START: {"start": State.STREAMING},
    State.STREAMING: {
        "media": State.STREAMING,
        "dtmf": State.STREAMING,
        "mark": State.STREAMING,
        "stop": State.STOPPED,
    },
    State.STOPPED: {},
}


def allowed(state: State) -> tuple[str, ...]:
    """Events the protocol allows in ``state``."""
    return tuple(TRANSITIONS[state])


def next_state(state: State, event: str) -> State | None:
    """The state after ``event``, or ``None`` when the event is out of order."""
    return TRANSITIONS[state].get(event)
