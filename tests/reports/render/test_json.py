"""reports.render.json: summary.json round-trips and refuses NaN."""

from __future__ import annotations

import json

import pytest

from reports.render.json import render
from reports.summary import Report


def test_round_trip(failing_report: Report) -> None:
    text = render(failing_report.summary)

    assert text.endswith("}\n")
    assert json.loads(text) == failing_report.summary


def test_nan_is_a_bug_not_output() -> None:
    with pytest.raises(ValueError):
        render({"x": float("nan")})
