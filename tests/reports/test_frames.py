"""reports.frames: the per-frame kernel, against naive per-row references."""

from __future__ import annotations

import random
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import given, settings, strategies as st

from reports.frames import UNKNOWN, FrameFacts, _unique_first, categories
from reports.load import load_run
from reports.performance import stream_codecs
from tests.reports.helpers import MS, T0, RunBuilder


def test_unique_first_keeps_the_first_occurrence() -> None:
    keys, first = _unique_first(np.array([5, 3, 5, 1, 3], np.int64))
    assert keys.tolist() == [1, 3, 5]
    assert first.tolist() == [3, 1, 0]


def test_categories_of_strings_and_categoricals() -> None:
    assert categories(pd.Series(["b", "a", "b"])) == ["a", "b"]
    assert categories(pd.Series(["b", None], dtype="category")) == ["b"]


def facts(build: RunBuilder) -> FrameFacts:
    run = load_run(build.write())
    sid_codec = stream_codecs(run)
    return FrameFacts(run, sid_codec, [*sorted(set(sid_codec)), UNKNOWN])


arrivals = st.lists(st.integers(1, 30), min_size=1, max_size=40).flatmap(
    lambda chunks: st.tuples(st.just(chunks), st.randoms(use_true_random=False))
)


@settings(max_examples=25, deadline=None)
@given(arrivals)
def test_reordering_and_gaps_match_a_row_by_row_walk(
    case: tuple[list[int], random.Random],
) -> None:
    """Chunks arrive 20 ms apart in a random order, on two tracks."""
    chunks, rng = case
    rng.shuffle(chunks)
    with tempfile.TemporaryDirectory() as root:
        build = RunBuilder(Path(root))
        build.stream("MZ1", "req-1")
        for track, order in (("inbound", chunks), ("outbound", sorted(chunks))):
            for i, chunk in enumerate(order):
                build.frame("MZ1", track, chunk, T0 + i * 20 * MS)
        got = facts(build)

    def late(order: list[int]) -> int:
        seen, count = 0, 0
        for chunk in order:
            count += chunk < seen
            seen = max(seen, chunk)
        return count

    assert int(got.reordered.sum()) == late(chunks)
    inbound = got.track_names.index("inbound")
    pcmu = got.codecs.index("PCMU") * got.nt
    assert got.reordered[pcmu + got.track_names.index("outbound")] == 0
    gaps = got.dists["interarrival_ms"][pcmu + inbound]
    assert gaps["count"] == len(chunks) - 1
    if len(chunks) > 1:
        assert gaps["max"] == gaps["min"] == 20.0


def naive_bursts(missing: set[int], upto: int) -> tuple[int, int]:
    """Runs of consecutive missing chunks in 1..upto, counted one by one."""
    count = longest = run = 0
    for chunk in range(1, upto + 1):
        run = run + 1 if chunk in missing else 0
        count += run == 1
        longest = max(longest, run)
    return count, longest


@settings(max_examples=25, deadline=None)
@given(st.integers(2, 60), st.sets(st.integers(1, 60)), st.booleans())
def test_loss_bursts_match_a_chunk_by_chunk_count(
    chunks: int, missing: set[int], log: bool
) -> None:
    lost = {c for c in missing if c <= chunks}
    if len(lost) == chunks:
        lost.discard(chunks)
    with tempfile.TemporaryDirectory() as root:
        build = RunBuilder(Path(root))
        build.stream("MZ1", "req-1")
        build.media("MZ1", chunks=chunks, missing=lost, log=log)
        got = facts(build)
    pcmu = got.codecs.index("PCMU") * got.nt + got.track_names.index("inbound")
    # without a send log the tail after the last received chunk is invisible
    seen = chunks if log else max(c for c in range(1, chunks + 1) if c not in lost)
    count, longest = naive_bursts(lost, seen)
    metrics = got.track_metrics(pcmu)["loss_bursts"]
    assert (metrics["count"], metrics["longest"]) == (count, longest)
