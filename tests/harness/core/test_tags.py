"""harness.core.tags: ``--tag key=value`` checked, every mistake named with its fix."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from harness.core.errors import ConfigError
from harness.core.tags import MAX_TAGS, parse_tags


def test_pairs_in_order() -> None:
    assert parse_tags(["branch=main", "build=42", "note=a=b", "empty="]) == {
        "branch": "main",
        "build": "42",
        "note": "a=b",
        "empty": "",
    }


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("branch", "has no '='"),
        ("=main", "has a bad key"),
        ("1st=x", "has a bad key"),
        ("a b=x", "has a bad key"),
        ("k=" + "x" * 257, "longer than 256"),
        ("k=line\nbreak", "control characters"),
    ],
)
def test_mistakes_name_the_flag_and_the_fix(text: str, problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_tags([text])
    assert caught.value.field.startswith("--tag ")
    assert problem in caught.value.problem
    assert caught.value.fix


def test_a_key_twice_and_too_many() -> None:
    with pytest.raises(ConfigError, match="repeats the key 'k'; give each key once"):
        parse_tags(["k=1", "k=2"])
    with pytest.raises(ConfigError, match=f"give at most {MAX_TAGS}"):
        parse_tags([f"k{i}=v" for i in range(MAX_TAGS + 1)])


keys = st.from_regex(r"[A-Za-z_][A-Za-z0-9_.\-]{0,63}", fullmatch=True)
values = st.text(
    alphabet=st.characters(min_codepoint=32, exclude_characters="\x7f"), max_size=256
)


@given(st.dictionaries(keys, values, max_size=MAX_TAGS))
def test_round_trip(tags: dict[str, str]) -> None:
    assert parse_tags(f"{k}={v}" for k, v in tags.items()) == tags


@given(st.text(max_size=80))
def test_any_text_is_a_tag_or_a_config_error(text: str) -> None:
    try:
        parsed = parse_tags([text])
    except ConfigError as exc:
        assert str(exc).startswith("--tag ")
    else:
        assert len(parsed) == 1
