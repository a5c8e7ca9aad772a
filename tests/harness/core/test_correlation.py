from __future__ import annotations

from hypothesis import given, strategies as st

from harness.core.correlation import (
    MASKED,
    PARAM_NAME,
    Expectation,
    describe,
    differences,
    digest,
    fingerprint,
    unfold,
    value_hash,
)


names = st.text(st.characters(blacklist_characters=";="), min_size=1, max_size=20)


@given(
    st.lists(
        st.tuples(names, st.text(max_size=30)),
        min_size=2,
        max_size=10,
        unique_by=lambda p: p[0],
    )
)
def test_digest_keeps_order_and_matches_its_parameters(params) -> None:
    exp = Expectation(
        "run", "req-1", "PCMU", "both_tracks", len(params), digest(params)
    )
    assert Expectation.decode(exp.encode()) == exp
    sent = {**dict(params), PARAM_NAME: exp.encode()}
    assert exp.matches(sent)
    assert not exp.matches({**sent, params[0][0]: params[0][1] + "x"})
    if params[0] != params[-1]:  # the same pairs in another order are another request
        assert not exp.matches({**dict(reversed(params)), PARAM_NAME: exp.encode()})
    # streamload's must come last: first is a reordering too
    assert not exp.matches({PARAM_NAME: exp.encode(), **dict(params)})


def test_foreign_values_are_not_ours() -> None:
    assert Expectation.decode("hello") is None
    assert Expectation.decode("v2;run=a") is None
    assert Expectation.decode("v1;run=r;req=q;codec=PCMU;track=x;n=0;digest=0") is None
    assert Expectation.from_parameters({"other": "x"}) is None


def test_a_fingerprint_masks_the_correlation_value_and_unfolds_with_it() -> None:
    fp = fingerprint([("a", "1"), (PARAM_NAME, "v2;req=9")])
    assert MASKED in fp and "v2;req=9" not in fp
    assert unfold(fp, "v2;req=9") == [
        ("a", value_hash("1")),
        (PARAM_NAME, value_hash("v2;req=9")),
    ]
    assert unfold("", "x") == unfold("not json", "x") == []


def test_a_fingerprint_of_98_long_parameters_is_a_fraction_of_their_text() -> None:
    params = [(f"p{i:02d}-" + "n" * 44, "v" * 440) for i in range(98)]
    fp = fingerprint([*params, (PARAM_NAME, "")])
    assert len(fp) < 8_000 < sum(len(n) + len(v) for n, v in params) // 5


def test_differences_name_each_change() -> None:
    sent = [("a", "1"), ("b", "2"), ("c", "3"), (PARAM_NAME, "s")]
    assert differences(sent, sent) == []
    cases = {
        "lost 'b' (Parameter2)": [("a", "1"), ("c", "3"), (PARAM_NAME, "s")],
        "added 'z'": [*sent[:3], ("z", "9"), sent[3]],
        "renamed 'a' (Parameter1) to 'A'": [("A", "1"), *sent[1:]],
        "altered the value of 'c' (Parameter3)": [*sent[:2], ("c", "x"), sent[3]],
        "reordered 'c' (sent as Parameter3, arrived 2nd); reordered 'b' (sent "
        "as Parameter2, arrived 3rd)": [sent[0], sent[2], sent[1], sent[3]],
        f"lost '{PARAM_NAME}' (Parameter4)": sent[:3],
    }
    for text, arrived in cases.items():
        assert describe(differences(sent, arrived)) == text


def test_a_moved_parameter_is_named_alone_and_long_evidence_is_counted() -> None:
    sent = [(f"p{i}", str(i)) for i in range(10)] + [(PARAM_NAME, "s")]
    moved = [sent[-1], *sent[:-1]]  # streamload's first
    assert differences(sent, moved) == [
        f"reordered '{PARAM_NAME}' (sent as Parameter11, arrived 1st)"
    ]
    everything = [(n + "!", v + "!") for n, v in sent]
    text = describe(differences(sent, everything))
    assert text.startswith("lost 'p0' (Parameter1); ") and text.endswith("and 18 more")
