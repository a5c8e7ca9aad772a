"""harness.core.knee: the next level of a capacity search, and when it stops."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given, strategies as st

from harness.core.knee import Plan, judged_live, run_time_s


def walk(plan: Plan, breaks: Callable[[int], bool]) -> list[tuple[int, str]]:
    """The levels ``plan`` runs against a platform that breaks where ``breaks`` says."""
    history: list[tuple[int, str]] = []
    while (users := plan.next(history)) is not None:
        history.append((users, "fail" if breaks(users) else "pass"))
        assert len(history) <= plan.max_levels
    return history


def test_steps_stop_one_level_after_a_confirmed_knee() -> None:
    plan = Plan(start=1, step=1, ceiling=20, max_levels=20)
    assert walk(plan, lambda u: u > 5) == [
        *((u, "pass") for u in range(1, 6)),
        (6, "fail"),
        (7, "fail"),
    ]


def test_a_repeat_confirms_the_same_level() -> None:
    plan = Plan(start=10, step=10, ceiling=200, max_levels=20, confirm="repeat")
    assert walk(plan, lambda u: u >= 30) == [
        (10, "pass"),
        (20, "pass"),
        (30, "fail"),
        (30, "fail"),
    ]


def test_a_blip_is_not_a_knee() -> None:
    plan = Plan(start=10, step=10, ceiling=60, max_levels=20)
    flaky = iter(["pass", "fail", "pass", "pass", "fail", "fail"])
    history: list[tuple[int, str]] = []
    while (users := plan.next(history)) is not None:
        history.append((users, next(flaky)))
    assert [u for u, _ in history] == [10, 20, 30, 40, 50, 60]


def test_ceiling_runs_every_step_and_the_ceiling_ends_a_search() -> None:
    plan = Plan(start=10, step=10, ceiling=40, max_levels=20, stop="ceiling")
    assert [u for u, _ in walk(plan, lambda u: u > 10)] == [10, 20, 30, 40]
    knee = Plan(start=10, step=10, ceiling=40, max_levels=20)
    assert [u for u, _ in walk(knee, lambda u: False)] == [10, 20, 30, 40]
    assert [u for u, _ in walk(knee, lambda u: u >= 40)] == [10, 20, 30, 40, 40]


def test_adaptive_grows_then_bisects_to_the_exact_knee() -> None:
    plan = Plan(start=1, step=1, ceiling=20, max_levels=20, search="adaptive")
    assert walk(plan, lambda u: u > 5) == [
        (1, "pass"),
        (2, "pass"),
        (4, "pass"),
        (8, "fail"),
        (6, "fail"),
        (5, "pass"),
    ]


@given(
    knee=st.integers(2, 200),
    start=st.integers(1, 20),
    step=st.integers(1, 10),
    confirm=st.sampled_from(["next", "repeat"]),
)
def test_adaptive_finds_the_knee_steps_find_in_no_more_levels(
    knee: int, start: int, step: int, confirm: str
) -> None:
    """Against a sharp knee (``knee`` users and more break), both searches name
    the same last level that held, and the adaptive one never needs more levels
    when the knee is far from the start."""
    ceiling = 200

    def breaks(u: int) -> bool:
        return u >= knee

    steps = Plan(start, step, ceiling, 400, confirm=confirm)  # type: ignore[arg-type]
    adaptive = Plan(start, step, ceiling, 400, "adaptive", confirm)  # type: ignore[arg-type]
    a, s = walk(adaptive, breaks), walk(steps, breaks)
    held = [max((u for u, r in h if r == "pass"), default=None) for h in (a, s)]
    assert held[0] == held[1]
    if knee - start > 8 * step:
        assert len(a) < len(s)


@pytest.mark.parametrize(
    ("gate", "live"),
    [
        ("requests.error_ratio", True),
        ("latency_ms.p99{codec=PCMU}", True),
        ("setup_ms.p99", True),
        ("conformance", True),
        ("loss_ratio", False),
        ("accounting.unaccounted", False),
        ("harness.saturated", False),
    ],
)
def test_which_gates_are_judged_live(gate: str, live: bool) -> None:
    assert judged_live(gate) is live


def test_a_driven_search_gets_time_to_wait_for_verdicts() -> None:
    assert run_time_s(400, 20, 2) == 400 + 20 * 5
