from __future__ import annotations

from scenarios.matrix import Combo, build_matrix, custom_parameters, parse_list


def test_matrix_is_the_full_product_in_a_stable_order() -> None:
    matrix = build_matrix(["PCMU", "L16"], ["inbound_track"], [0, 10], ["sid", "name"])
    assert len(matrix) == 8
    assert matrix[0] == Combo("PCMU", "inbound_track", 0, "sid")
    assert matrix[1] == Combo("L16", "inbound_track", 0, "sid")  # codecs vary fastest
    assert len(set(matrix)) == 8
    assert matrix == build_matrix(
        ["PCMU", "L16"], ["inbound_track"], [0, 10], ["sid", "name"]
    )


def test_custom_parameters_are_distinct_per_request() -> None:
    a, b = custom_parameters(3, "r1"), custom_parameters(3, "r2")
    assert [n for n, _ in a] == ["param1", "param2", "param3"]
    assert {v for _, v in a}.isdisjoint({v for _, v in b})
    assert custom_parameters(0, "r1") == []


def test_parse_list() -> None:
    assert parse_list(" PCMU, ,L16@16000h ") == ["PCMU", "L16@16000h"]
