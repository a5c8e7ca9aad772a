from __future__ import annotations

from hypothesis import given, strategies as st

from harness.correlation import PARAM_NAME, Expectation, digest


names = st.text(st.characters(blacklist_characters=";="), min_size=1, max_size=20)


@given(
    st.lists(
        st.tuples(names, st.text(max_size=30)), max_size=10, unique_by=lambda p: p[0]
    )
)
def test_digest_ignores_order_and_matches_its_parameters(params) -> None:
    exp = Expectation(
        "run", "req-1", "PCMU", "both_tracks", len(params), digest(params)
    )
    assert Expectation.decode(exp.encode()) == exp
    sent = {**dict(reversed(params)), PARAM_NAME: exp.encode()}
    assert exp.matches(sent)
    if params:
        assert not exp.matches({**sent, params[0][0]: params[0][1] + "x"})


def test_foreign_values_are_not_ours() -> None:
    assert Expectation.decode("hello") is None
    assert Expectation.decode("v1;run=a") is None
    assert Expectation.from_parameters({"other": "x"}) is None
