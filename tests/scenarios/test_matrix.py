"""scenarios.matrix: the weighted walk covers every cell and every value early."""

from __future__ import annotations

import collections
import itertools

from harness.core.profiles.profile import DIMENSIONS, MatrixSpec
from harness.io.profile_file import load_profile
from scenarios.matrix import (
    LONG_NAME,
    LONG_VALUE,
    Combo,
    Matrix,
    custom_parameters,
    parse_list,
    weighted_cycle,
)


def spec(
    weights: dict[str, dict[str, int]] | None = None, **values: list[str]
) -> MatrixSpec:
    base: dict[str, tuple[str, ...]] = {
        dim: (allowed[0],) for dim, allowed in DIMENSIONS.items()
    }
    base.update({k: tuple(v) for k, v in values.items()})
    return MatrixSpec(values=base, weights=weights or {})


def test_the_walk_visits_every_cell_once_per_cycle() -> None:
    matrix = Matrix(load_profile("smoke").matrix)
    assert matrix.cycle == 5 * 3 * 4 * 2 * 3 * 2 * 2 * 2
    cells = {tuple(matrix.digits(i)) for i in range(matrix.cycle)}
    assert len(cells) == matrix.cycle
    assert matrix.digits(matrix.cycle + 7) == matrix.digits(7)


def test_every_value_of_every_dimension_comes_within_a_few_requests() -> None:
    matrix = Matrix(load_profile("smoke").matrix)
    first = [matrix.combo(i) for i in range(12)]
    assert [c.codec for c in first[:5]] == [
        "PCMU",
        "PCMA",
        "L16",
        "L16@16000h",
        "L16@24000h",
    ]
    assert {c.track for c in first} == {
        "inbound_track",
        "outbound_track",
        "both_tracks",
    }
    assert {c.n_params for c in first} == {0, 1, 10, 98}
    assert {c.long_params for c in first} == {False, True}
    assert {c.real_time for c in first} == {None, True, False}
    assert {c.bearer for c in first} == {True, False}
    assert {c.callback for c in first} == {True, False}
    assert {c.stop_by for c in first} == {"sid", "name"}


def test_weights_set_each_value_share_exactly_per_cycle() -> None:
    matrix = Matrix(
        spec(
            {"codecs": {"PCMU": 3}, "stop_by": {"name": 2}},
            codecs=["PCMU", "PCMA"],
            stop_by=["sid", "name"],
            tracks=["inbound_track", "both_tracks"],
        )
    )
    combos = [matrix.combo(i) for i in range(matrix.cycle)]
    assert collections.Counter(c.codec for c in combos) == {"PCMU": 18, "PCMA": 6}
    assert collections.Counter(c.stop_by for c in combos) == {"name": 16, "sid": 8}
    assert combos[0] == Combo("PCMU", "inbound_track", 0, "name")  # heaviest first


def test_weighted_cycle_interleaves() -> None:
    assert weighted_cycle(["a", "b"], [3, 1]) == ["a", "a", "b", "a"]
    assert weighted_cycle(["a", "b", "c"], [1, 1, 1]) == ["a", "b", "c"]


def test_custom_parameters_short_and_long() -> None:
    short = custom_parameters(3)
    assert short == [
        ("param1", "value-1"),
        ("param2", "value-2"),
        ("param3", "value-3"),
    ]
    long = custom_parameters(98, long=True)
    assert len(long) == 98 and len({n for n, _ in long}) == 98
    assert all(len(n) == LONG_NAME and len(v) == LONG_VALUE for n, v in long)
    assert all(len(n) + len(v) < 500 for n, v in long)  # Twilio's documented limit
    assert any(c in long[0][1] for c in "&=+%€")
    assert custom_parameters(0, long=True) == []


def test_parse_list() -> None:
    assert parse_list(" PCMU, ,L16@16000h ") == ["PCMU", "L16@16000h"]


def test_cells_are_shared_objects() -> None:
    matrix = Matrix(spec(codecs=["PCMU"]))
    assert all(a is b for a, b in itertools.pairwise(matrix.combo(i) for i in range(3)))


def test_cells_by_position_are_the_walk_s_own(monkeypatch) -> None:
    """The cache by position gives what the walk's arithmetic gives, within and past it."""
    import scenarios.matrix as matrix_module

    smoke = load_profile("smoke").matrix
    cached, fresh = Matrix(smoke), Matrix(smoke)
    picks = [*range(0, 2 * cached.cycle, 7), cached.cycle - 1, 10 * cached.cycle + 3]
    assert [cached.combo(i) for i in picks] == [fresh._combo_at(i) for i in picks]
    assert all(cached.combo(i) is cached.combo(i + cached.cycle) for i in picks)
    monkeypatch.setattr(matrix_module, "CACHED_CYCLE", 10)
    big = Matrix(smoke)
    assert [big.combo(i) for i in picks] == [fresh._combo_at(i) for i in picks]
    assert big._at == {}  # a cycle past the bound keeps nothing by position
