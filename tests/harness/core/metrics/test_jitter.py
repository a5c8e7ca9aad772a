"""RFC 3550 §6.4.1 / A.8 interarrival jitter."""

from __future__ import annotations

import math

from hypothesis import given, strategies as st

from harness.core.metrics.jitter import WARMUP_FRAMES, InterarrivalJitter


MS = 1_000_000


def reference_jitter(arrivals: list[int], media: list[int]) -> float:
    """The RFC's formula written out plainly over the whole list."""
    transits = [a - t for a, t in zip(arrivals, media, strict=True)]
    j = 0.0
    for prev, cur in zip(transits, transits[1:], strict=False):
        j = j + (abs(cur - prev) - j) / 16
    return j


def test_hand_worked_example() -> None:
    """Arrivals 0, 20, 45, 60 ms for media 0, 20, 40, 60: D = 0, 5, 5 ms."""
    jit = InterarrivalJitter()
    out = [
        jit.update(a * MS, t * MS) for a, t in [(0, 0), (20, 20), (45, 40), (60, 60)]
    ]
    assert out[:2] == [0.0, 0.0]
    assert out[2] == 5 * MS / 16
    assert out[3] == 5 * MS / 16 + (5 * MS - 5 * MS / 16) / 16


def test_perfect_pacing_has_zero_jitter_whatever_the_offset() -> None:
    jit = InterarrivalJitter()
    for k in range(100):
        assert jit.update(7 * MS + k * 20 * MS, k * 20 * MS) == 0.0


@given(
    st.lists(
        st.tuples(st.integers(0, 10**12), st.integers(0, 10**9)),
        min_size=1,
        max_size=200,
    )
)
def test_matches_the_reference(pairs) -> None:
    jit = InterarrivalJitter()
    for arrival, media in pairs:
        jit.update(arrival, media)
    expected = reference_jitter([a for a, _ in pairs], [t for _, t in pairs])
    assert abs(jit.jitter_ns - expected) <= 1e-6 * max(1.0, expected)


def test_the_first_warmup_frames_record_nan_then_the_estimate() -> None:
    jit = InterarrivalJitter()
    recorded = []
    for k in range(WARMUP_FRAMES + 3):
        jit.update(k * 20 * MS + (k % 3) * MS, k * 20 * MS)
        recorded.append(jit.recorded())
    assert all(math.isnan(v) for v in recorded[:WARMUP_FRAMES])
    assert not any(math.isnan(v) for v in recorded[WARMUP_FRAMES:])
    assert recorded[-1] == jit.jitter_ns > 0 and jit.settled


def test_the_warmup_leaves_the_estimate_under_two_percent_low() -> None:
    """With gain 1/16 the first settled frame's expected estimate is 1 - (15/16)^64."""
    assert (15 / 16) ** WARMUP_FRAMES < 0.02 < (15 / 16) ** (WARMUP_FRAMES - 10)
    jit = InterarrivalJitter()  # a constant |D| of 1 ms: J_n = 1 ms x (1 - (15/16)^n)
    for k in range(WARMUP_FRAMES + 1):
        jit.update(k * 20 * MS + (k % 2) * MS, k * 20 * MS)
    assert jit.settled and 0.98 * MS < jit.recorded() < MS


@given(
    st.lists(
        st.tuples(st.integers(0, 10**12), st.integers(0, 10**9)),
        min_size=1,
        max_size=WARMUP_FRAMES + 40,
    )
)
def test_record_is_update_then_recorded(pairs) -> None:
    """The receiver's one call per frame gives what update + recorded() give."""
    fed, recorded = InterarrivalJitter(), InterarrivalJitter()
    for arrival, media in pairs:
        fed.update(arrival, media)
        got = recorded.record(arrival, media)
        want = fed.recorded()
        assert got == want or (math.isnan(got) and math.isnan(want))
        assert recorded.jitter_ns == fed.jitter_ns and recorded.frames == fed.frames
