from __future__ import annotations

from hypothesis import given, strategies as st

from harness.metrics.sequence import Arrival, SequenceCounter


def test_classification() -> None:
    s = SequenceCounter()
    outcomes = [s.receive(n) for n in [1, 2, 4, 3, 3, 6, 5, 7]]
    assert outcomes == [
        Arrival.NEXT,
        Arrival.NEXT,
        Arrival.GAP,
        Arrival.LATE,
        Arrival.DUPLICATE,
        Arrival.GAP,
        Arrival.LATE,
        Arrival.NEXT,
    ]
    assert (s.missing, s.duplicates, s.late, s.unique) == (0, 1, 2, 7)


def test_window_bounds_memory() -> None:
    s = SequenceCounter(window=8)
    s.receive(100)
    assert s.receive(50) is Arrival.TOO_OLD
    assert s._seen < (1 << 8)


@given(st.lists(st.integers(1, 300), max_size=400))
def test_matches_a_set_model_inside_the_window(numbers) -> None:
    s = SequenceCounter(window=1024)
    seen: set[int] = set()
    duplicates = 0
    for n in numbers:
        s.receive(n)
        duplicates += n in seen
        seen.add(n)
    assert s.unique == len(seen)
    assert s.duplicates == duplicates
    assert s.highest == max(numbers, default=0)
    assert s.missing == (max(numbers) - len(seen) if numbers else 0)
