"""Readers of user-supplied JSON never crash (issue 13, item 7).

``streamload compare`` on a summary of any shape exits 0, 1 or 2, never with a
traceback; a wrong shape is a usage error naming the file and the field.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from harness.core.errors import ConfigError
from reports import compare
from reports.inputs import need, read_json


BASE: dict[str, Any] = {
    "verdict": "pass",
    "run": {"run_id": "base"},
    "performance": {
        "codecs": {"PCMU": {"latency_ms": {"p50": 1.0, "p99": 2.0, "count": 500}}},
        "harness": {"saturated": True, "producers": {"rx": {"lag_ms": {"p99": 1}}}},
    },
    "thresholds": [{"name": "loss", "metric": "loss_ratio", "result": "pass"}],
}

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)

PLACES = (
    (),
    ("thresholds",),
    ("thresholds", 0),
    ("run",),
    ("performance",),
    ("performance", "codecs"),
    ("performance", "codecs", "PCMU"),
    ("performance", "codecs", "PCMU", "latency_ms"),
    ("performance", "harness"),
    ("performance", "harness", "producers"),
    ("performance", "harness", "producers", "rx"),
    ("verdict",),
)


def _put(doc: Any, place: tuple[str | int, ...], value: Any) -> Any:
    if not place:
        return value
    doc = json.loads(json.dumps(doc))
    node = doc
    for key in place[:-1]:
        node = node[key]
    node[place[-1]] = value
    return doc


def _compare(tmp: Path, base: Any, new: Any, capsys: pytest.CaptureFixture[str]) -> int:
    (tmp / "base.json").write_text(json.dumps(base))
    (tmp / "new.json").write_text(json.dumps(new))
    code = compare.main([str(tmp / "base.json"), str(tmp / "new.json")])
    out = capsys.readouterr()
    assert "Traceback" not in out.err + out.out
    return code


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(place=st.sampled_from(PLACES), value=json_values, as_base=st.booleans())
def test_any_json_value_anywhere_exits_0_1_or_2(
    place: tuple[str | int, ...],
    value: Any,
    as_base: bool,
    capsys: pytest.CaptureFixture[str],
) -> None:
    bad = _put(BASE, place, value)
    with tempfile.TemporaryDirectory() as tmp:
        base, new = (bad, BASE) if as_base else (BASE, bad)
        assert _compare(Path(tmp), base, new, capsys) in (0, 1, 2)


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ('{"thresholds": "abc"}', "thresholds: is a string"),
        ("[1, 2]", "is not a summary"),
        ('{"performance": {"codecs": {"PCMU": 3}}}', "performance.codecs.PCMU"),
        ('{"thresholds": [1]}', "thresholds[0]: is a number"),
        ("[" * 100_000 + "]" * 100_000, "nested too deep"),
        ("{", "is not valid JSON"),
    ],
)
def test_a_wrong_shape_exits_2_naming_the_file_and_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, named: str
) -> None:
    (tmp_path / "base.json").write_text(json.dumps(BASE))
    (tmp_path / "new.json").write_text(text)
    assert compare.main([str(tmp_path / "base.json"), str(tmp_path / "new.json")]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "new.json" in err and named in err


def test_need_allows_absent_and_null_and_names_the_element(tmp_path: Path) -> None:
    need({}, "a.b", "array", "f.json", "fix")
    need({"a": None}, "a.b", "array", "f.json", "fix")
    need({"a": {"b": [{}]}}, "a.b", "array", "f.json", "fix", each="object")
    with pytest.raises(ConfigError) as caught:
        need({"a": {"b": [{}, True]}}, "a.b", "array", "f.json", "fix", each="object")
    assert (
        str(caught.value) == "f.json: a.b[1]: is a boolean (true), not an object; fix"
    )
    with pytest.raises(ConfigError, match="f.json: a: is an array, not an object"):
        need({"a": []}, "a.b", "array", "f.json", "fix")
    with pytest.raises(ConfigError, match="not a number"):
        need({"n": True}, "n", "number", "f.json", "fix")
    with pytest.raises(ConfigError, match="cannot be read"):
        read_json(tmp_path / "absent.json", "fix")
