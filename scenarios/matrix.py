"""The request space as data: tracks x codecs x custom-parameter counts x stop style."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence
from typing import Literal


__all__ = ["Combo", "StopBy", "build_matrix", "custom_parameters", "parse_list"]

StopBy = Literal["sid", "name"]


@dataclasses.dataclass(frozen=True, slots=True)
class Combo:
    """One cell of the matrix: what a single start request asks for."""

    codec: str
    track: str
    n_params: int
    stop_by: StopBy


def build_matrix(
    codecs: Sequence[str],
    tracks: Sequence[str],
    param_counts: Sequence[int],
    stop_by: Sequence[StopBy] = ("sid", "name"),
) -> list[Combo]:
    """Every combination, in a stable order where the codec varies fastest.

    A short run then still covers every codec, then every track, and so on.
    """
    return [
        Combo(c, t, n, s)
        for s, n, t, c in itertools.product(stop_by, param_counts, tracks, codecs)
    ]


def custom_parameters(n: int, request_id: str) -> list[tuple[str, str]]:
    """``n`` distinct (name, value) pairs; values carry the request id so none repeat."""
    return [(f"param{i}", f"value-{i}-{request_id}") for i in range(1, n + 1)]


def parse_list(text: str) -> list[str]:
    """Split a comma-separated option value, dropping blanks."""
    return [part.strip() for part in text.split(",") if part.strip()]
