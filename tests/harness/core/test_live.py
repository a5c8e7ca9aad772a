"""harness.core.live: receivers' delta lines sum exactly; percentiles within a bucket."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from harness.core.histogram import Histogram, bucket_bounds_ns, bucket_of
from harness.core.live import (
    FIELD,
    Live,
    decode_counts,
    encode_counts,
    merge,
    progress_line,
    receiver_doc,
)


MS = 1_000_000
values = st.integers(-50 * MS, 2_000 * MS)
samples = st.lists(values, min_size=1, max_size=200)


def hist(items: list[int]) -> dict[int, int]:
    h = Histogram()
    for v in items:
        h.record(v)
    return h.counts


def doc(
    seq: int, transit: list[int], jitter: list[int], due: int, started: int, n_open: int
) -> object:
    """One line's object for PCMU/inbound, through JSON as on the wire."""
    made = receiver_doc(
        seq,
        {
            ("transit_first_ns", "PCMU", "inbound"): hist(transit),
            ("jitter_ns", "PCMU", "inbound"): hist(jitter),
            ("interarrival_ns", "PCMU", "inbound"): hist(transit),  # not live
        },
        {("PCMU", "inbound"): due},
        {"PCMU": started},
        {"PCMU": n_open},
    )
    return json.loads(json.dumps({FIELD: made}))[FIELD]


@given(st.dictionaries(st.integers(-(10**6), 10**6), st.integers(0, 10**9)))
def test_counts_round_trip(counts: dict[int, int]) -> None:
    wire = json.loads(json.dumps(encode_counts(counts)))
    assert decode_counts(wire) == {b: c for b, c in counts.items() if c}


@given(st.lists(st.lists(samples, min_size=1, max_size=3), min_size=1, max_size=3))
def test_lines_of_receivers_sum_to_one_receiver_seeing_everything(
    receivers: list[list[list[int]]],
) -> None:
    """Each receiver sends its samples as deltas over several lines."""
    everything = [v for lines in receivers for line in lines for v in line]
    live = merge(
        (f"r{r}", doc(seq + 1, line, line, len(line), 1, 1))
        for r, lines in enumerate(receivers)
        for seq, line in enumerate(lines)
    )
    track = live.tracks["PCMU", "inbound"]
    assert track.transit == Histogram(hist(everything))
    assert track.frames == len(everything) and track.lost == 0 and live.gaps == 0
    view = live.figures().codec("PCMU")
    lines = sum(len(lines) for lines in receivers)
    assert (view.streams_live, view.streams_started) == (len(receivers), lines)
    alone = merge([("one", doc(1, everything, everything, len(everything), 0, 0))])
    assert view.transit_p99_ms == alone.figures().codec("PCMU").transit_p99_ms


@settings(max_examples=150)
@given(st.lists(samples, min_size=1, max_size=3), st.sampled_from([0.5, 0.99]))
def test_percentile_within_a_bucket_of_numpy(parts: list[list[int]], q: float) -> None:
    """Against NumPy's nearest-rank percentile of the same samples (inverted_cdf)."""
    everything = np.array([v for part in parts for v in part])
    exact = int(np.percentile(everything, q * 100, method="inverted_cdf"))
    live = merge((f"r{i}", doc(1, part, [], 0, 0, 0)) for i, part in enumerate(parts))
    got = live.tracks["PCMU", "inbound"].transit.percentile(q)
    assert got is not None
    low, high = bucket_bounds_ns(bucket_of(exact))
    assert abs(got - exact) <= high - low
    view = live.figures().codec("PCMU")
    shown = view.transit_p50_ms if q == 0.5 else view.transit_p99_ms
    assert shown == round(got / MS, 3)


def test_loss_from_frames_due_and_open_streams_from_the_latest_line() -> None:
    live = merge(
        [
            ("a", doc(1, [1, 2, 3], [], 5, 1, 1)),
            ("b", doc(1, [4], [], 1, 1, 1)),
            ("a", doc(2, [], [], 0, 0, 0)),  # a's stream closed
        ]
    )
    view = live.figures().codec("PCMU")
    assert (view.frames, view.lost, view.loss_ratio) == (4, 2, round(2 / 6, 6))
    assert (view.streams_live, view.streams_started) == (1, 2)


def test_a_skipped_line_and_malformed_objects_count_as_gaps() -> None:
    bad: list[object] = [
        "text",
        {"seq": 2, "tracks": []},
        {"seq": 2, "tracks": {"PCMU": {"inbound": {"transit": [[1, 2], [3]]}}}},
        {"seq": 2, "tracks": {"PCMU": {"inbound": {"transit": [[1], [-3]]}}}},
        {"seq": 2, "tracks": {"PCMU": {"inbound": {"due": True}}}},
        {"tracks": {}},
        # valid tracks, then a bad started entry: nothing of it is added
        {"seq": 2, "tracks": {"PCMU": {"inbound": {"due": 7}}}, "started": {"X": "no"}},
    ]
    live = merge([("a", doc(1, [MS], [MS], 1, 1, 1)), *(("a", b) for b in bad)])
    assert live.gaps == len(bad)
    assert live.tracks["PCMU", "inbound"].due == 1
    live.feed("a", doc(4, [], [], 0, 0, 0))  # 2 and 3 never came
    assert live.gaps == len(bad) + 2


def test_a_supervisor_line_sums_its_workers() -> None:
    summed = merge(
        [
            ("w1", doc(1, [MS, 2 * MS], [MS], 2, 1, 1)),
            ("w2", doc(1, [5 * MS], [], 4, 2, 0)),
        ]
    )
    again = merge([("sup", json.loads(json.dumps(summed.doc(1))))])
    assert again.figures() == summed.figures()


def test_progress_line() -> None:
    assert progress_line(Live().figures()) == "media: no frames yet"
    live = merge([("a", doc(1, [MS] * 99 + [9 * MS], [2 * MS], 101, 4, 3))])
    assert progress_line(live.figures()) == (
        "media PCMU: 3 live, p99 1.00 ms, jitter p99 2.00 ms, loss 0.99%"
    )
    with pytest.raises(KeyError):
        live.figures().codec("PCMA")


def test_decode_refuses_non_lists() -> None:
    wrongs: list[object] = [{}, [[1], 1], [[1.5], [1]], [[True], [1]]]
    for wrong in wrongs:
        with pytest.raises(ValueError):
            decode_counts(wrong)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.floats() | st.text(max_size=3),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=12,
)


@given(
    st.fixed_dictionaries(
        {"seq": json_values, "tracks": json_values},
        optional={"started": json_values, "open": json_values},
    )
    | json_values
)
def test_any_json_is_added_or_counted_as_a_gap_never_raised(doc: object) -> None:
    live = Live()
    live.feed("r", doc)
    live.figures()
