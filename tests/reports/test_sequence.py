"""Loss by chunk gaps and reordering (``reports.frames``) against a plain model.

The reference here walks each track's arrivals one at a time with a set and a
running maximum, the way a reader would count by hand; the report's versions
are vectorised over every track at once.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, strategies as st

from reports.frames import chunk_gaps, reordered


SPAN = 1 << 12

tracks = st.lists(st.lists(st.integers(1, 300), max_size=60), max_size=6)
"""Per track, its chunks in arrival order."""


def _reference_gaps(arrivals: list[list[int]]) -> tuple[list[int], list[int], int]:
    """Per track with frames: highest chunk and chunks missing below it; bursts."""
    highest, missing, bursts = [], [], 0
    for chunks in arrivals:
        seen = set(chunks)
        if not seen:
            continue
        top = max(seen)
        highest.append(top)
        missing.append(sum(1 for c in range(1, top + 1) if c not in seen))
        bursts += sum(
            1 for c in range(1, top + 1) if c not in seen and (c == 1 or c - 1 in seen)
        )
    return highest, missing, bursts


def _reference_reordered(arrivals: list[list[int]]) -> int:
    late = 0
    for chunks in arrivals:
        top = 0
        for c in chunks:
            late += c < top
            top = max(top, c)
    return late


@given(tracks)
def test_chunk_gaps_match_a_set_model(arrivals: list[list[int]]) -> None:
    keys = np.unique(
        np.array(
            [t * SPAN + c for t, chunks in enumerate(arrivals) for c in chunks],
            np.int64,
        )
    )
    gaps = chunk_gaps(keys, SPAN)
    highest, missing, bursts = _reference_gaps(arrivals)
    assert gaps.highest.tolist() == highest
    assert gaps.missing.tolist() == missing
    assert int((gaps.before > 0).sum()) == bursts
    assert int(gaps.before[gaps.before > 0].sum()) == sum(missing)


@given(tracks)
def test_reordered_matches_a_running_maximum(arrivals: list[list[int]]) -> None:
    rows = [(t, c) for t, chunks in enumerate(arrivals) for c in chunks]
    track_run = np.array([t for t, _ in rows], np.int64)
    chunk = np.array([c for _, c in rows], np.int64)
    late = reordered(track_run, chunk, SPAN)
    assert int(late.sum()) == _reference_reordered(arrivals)


def test_examples() -> None:
    # 1 2 4 3 3 6 5 7: 3, the second 3 and 5 arrive below a higher chunk
    late = reordered(
        np.zeros(8, np.int64), np.array([1, 2, 4, 3, 3, 6, 5, 7], np.int64), SPAN
    )
    assert late.tolist() == [False, False, False, True, True, False, True, False]
    gaps = chunk_gaps(np.array([2, 3, 6, SPAN + 1], np.int64), SPAN)
    assert gaps.highest.tolist() == [6, 1]
    assert gaps.missing.tolist() == [3, 0]  # 1, 4, 5 of the first track
    assert gaps.before.tolist() == [1, 0, 2, 0]
