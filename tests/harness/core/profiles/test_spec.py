"""harness.core.profiles.spec: shapes stay within their users and time; weights default to 1."""

from __future__ import annotations

import pytest

from harness.core.profiles.spec import DIMENSIONS, MatrixSpec, ShapeSpec


@pytest.mark.parametrize(
    ("spec", "times", "users"),
    [
        (
            ShapeSpec(kind="step", start=2, step=2, every_s=4),
            [0, 3.9, 4, 8, 12, 59],
            [2, 2, 4, 6, 6, 6],
        ),
        (ShapeSpec(kind="ramp", start=1, ramp_s=10), [0, 5, 10], [1, 3, 6]),
        (
            ShapeSpec(kind="spike", base=1, at_s=5, length_s=2),
            [0, 5, 6.9, 7],
            [1, 6, 6, 1],
        ),
        (ShapeSpec(kind="soak", ramp_s=6), [0, 3, 6, 50], [0, 3, 6, 6]),
        (ShapeSpec(), [0, 59], [6, 6]),
    ],
)
def test_shapes_stay_within_users_and_time(spec, times, users) -> None:
    assert [spec.users_at(t, 6, 60) for t in times] == users
    assert spec.users_at(60, 6, 60) is None


def test_step_levels_for_the_capacity_search() -> None:
    spec = ShapeSpec(kind="step", start=2, step=2, every_s=4)
    assert spec.levels(6, 16) == [(2, 0, 4), (4, 4, 8), (6, 8, 16)]
    assert ShapeSpec().levels(5, 10) == [(5, 0.0, 10)]


def test_unweighted_values_weigh_one() -> None:
    spec = MatrixSpec(values=dict(DIMENSIONS), weights={"codecs": {"PCMU": 3}})
    assert spec.weight("codecs", "PCMU") == 3 and spec.weight("codecs", "PCMA") == 1
