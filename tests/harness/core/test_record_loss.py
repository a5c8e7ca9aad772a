"""harness.core.record_loss: what a producer failed to keep, and when."""

from __future__ import annotations

from hypothesis import given, strategies as st

from harness.core.record_loss import RecordLoss


def test_a_fresh_producer_is_complete_with_zero_counts() -> None:
    loss = RecordLoss("receiver-0", "receiver")
    assert loss.complete
    assert loss.stats() == {
        "records_failed": 0,
        "records_dropped": 0,
        "record_write_errors": 0,
    }
    assert loss.as_json()["first_mono_ns"] is None


def test_failures_and_drops_add_up_per_table_with_first_and_last_time() -> None:
    loss = RecordLoss("receiver-0", "receiver")
    loss.fail("frames", 100, "[Errno 28] No space left on device", 10, 1000)
    loss.drop("frames", 5, 20, 2000)
    loss.fail("streams", 2, "[Errno 5] Input/output error", 30, 3000)
    assert not loss.complete
    assert loss.failed == {"frames": 100, "streams": 2}
    assert loss.rows_failed == 102 and loss.rows_dropped == 5
    doc = loss.as_json()
    assert (doc["first_mono_ns"], doc["last_mono_ns"]) == (10, 30)
    assert (doc["first_wall_ns"], doc["last_wall_ns"]) == (1000, 3000)
    assert doc["write_errors"] == 2 and "Input/output" in doc["last_error"]


@given(st.lists(st.tuples(st.booleans(), st.integers(0, 10**6)), max_size=50))
def test_counts_are_exact_sums(events: list[tuple[bool, int]]) -> None:
    loss = RecordLoss("p", "platform")
    for at, (failed, rows) in enumerate(events, start=1):
        if failed:
            loss.fail("sent_frames", rows, "e", at, at)
        else:
            loss.drop("sent_frames", rows, at, at)
    assert loss.rows_failed == sum(r for f, r in events if f)
    assert loss.rows_dropped == sum(r for f, r in events if not f)
    assert loss.write_errors == sum(f for f, _ in events)
    assert loss.complete == (not any(f for f, _ in events) and not loss.rows_dropped)
