"""Tie each stream to the request that made it, through the data alone.

Every start request carries one custom parameter, ``streamload``, whose value
names the run, the request, and what was asked for (codec, track, how many
other parameters and a digest of them). The platform echoes it in
``start.customParameters`` (contract §5.2, §3 ``<Parameter>``), so a receiver can
check the stream against the request without any side channel, against the
reference platform and a real one alike. It takes one of the 99 parameter slots.

A platform may drop or mangle that very parameter, so the correlation cannot
rest on it alone: the create answer's ``sid`` equals ``start.streamSid``, which
no platform can drop. Both sides therefore record a :func:`fingerprint` of the
parameters (each name in order with a short hash of its value: a few KB for 98
long parameters instead of ~48 KB), and :func:`differences` names which one was
lost, added, renamed, altered or moved when the two disagree
(:mod:`harness.core.join` pairs them by sid).
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Final

import msgspec


__all__ = [
    "MASKED",
    "PARAM_NAME",
    "Expectation",
    "describe",
    "differences",
    "digest",
    "fingerprint",
    "unfold",
    "value_hash",
]

PARAM_NAME = "streamload"
_VERSION = "v2"
"""v2: the digest is order-sensitive (v1's was not, so a reordering passed)."""
MASKED: Final = "*"
"""The value hash :func:`fingerprint` gives the correlation parameter: its value
differs per request, so it travels apart and the rest is shared by a matrix cell."""
_EVIDENCE_ITEMS: Final = 4
"""Differences named in one piece of evidence; the rest are counted."""


def digest(parameters: Iterable[tuple[str, str]]) -> str:
    """Hash the (name, value) pairs, in the order given, to 16 hex digits.

    Order counts: the pairs are sent as ``Parameter1..N`` and a platform that
    reorders them breaks WS-START-003 like one that drops one.
    """
    h = hashlib.sha256()
    for name, value in parameters:
        h.update(
            name.encode("utf-8", "surrogatepass")
        )  # JSON can carry lone surrogates
        h.update(b"\0")
        h.update(value.encode("utf-8", "surrogatepass"))
        h.update(b"\0")
    return h.hexdigest()[:16]


@dataclasses.dataclass(frozen=True, slots=True)
class Expectation:
    """What the request asked for, as carried in the ``streamload`` parameter."""

    run_id: str
    request_id: str
    codec: str
    track: str
    n_params: int
    """How many custom parameters were sent besides ``streamload``."""
    params_digest: str

    def encode(self) -> str:
        return (
            f"{_VERSION};run={self.run_id};req={self.request_id};codec={self.codec};"
            f"track={self.track};n={self.n_params};digest={self.params_digest}"
        )

    @classmethod
    def decode(cls, value: str) -> Expectation | None:
        """Parse a ``streamload`` value; ``None`` if it is not one of ours."""
        version, _, rest = value.partition(";")
        if version != _VERSION:
            return None
        fields = dict(part.partition("=")[::2] for part in rest.split(";"))
        try:
            return cls(
                run_id=fields["run"],
                request_id=fields["req"],
                codec=fields["codec"],
                track=fields["track"],
                n_params=int(fields["n"]),
                params_digest=fields["digest"],
            )
        except (KeyError, ValueError):
            return None

    @classmethod
    def from_parameters(cls, parameters: Mapping[str, str]) -> Expectation | None:
        """Find and parse ours among a stream's custom parameters."""
        value = parameters.get(PARAM_NAME)
        return None if value is None else cls.decode(value)

    def matches(self, parameters: Mapping[str, str]) -> bool:
        """True when the parameters are exactly those the request sent, in order:
        the others as digested, then ``streamload`` last."""
        others = [(k, v) for k, v in parameters.items() if k != PARAM_NAME]
        return (
            len(others) == self.n_params
            and list(parameters)[-1:] == [PARAM_NAME]
            and digest(others) == self.params_digest
        )


def value_hash(value: str) -> str:
    """12 hex digits of a value: a change shows with odds of 1 in 2**48 of hiding."""
    data = value.encode("utf-8", "surrogatepass")
    return hashlib.blake2b(data, digest_size=6).hexdigest()


def fingerprint(parameters: Iterable[tuple[str, str]]) -> str:
    """The parameters as JSON ``[[name, value hash], ...]`` in order; the
    correlation parameter's value hash is :data:`MASKED` (recorded apart)."""
    pairs = [
        [name, MASKED if name == PARAM_NAME else value_hash(value)]
        for name, value in parameters
    ]
    return msgspec.json.encode(pairs).decode()


def unfold(fp: str, correlation: str) -> list[tuple[str, str]]:
    """A :func:`fingerprint` as (name, value hash) pairs, the masked correlation
    value filled in from ``correlation``; ``[]`` for an empty or unreadable one."""
    pairs = _pairs(fp)
    corr = value_hash(correlation)
    return [(n, corr if n == PARAM_NAME and h == MASKED else h) for n, h in pairs]


@functools.lru_cache(maxsize=256)
def _pairs(fp: str) -> tuple[tuple[str, str], ...]:
    """Decode a fingerprint once: a matrix cell's requests all share one."""
    if not fp:
        return ()
    try:
        return tuple(msgspec.json.decode(fp, type=list[tuple[str, str]]))
    except msgspec.DecodeError:
        return ()


def differences(
    sent: Sequence[tuple[str, str]], arrived: Sequence[tuple[str, str]]
) -> list[str]:
    """What changed between two (name, value hash) lists, naming each parameter.

    A name only sent and one only arrived with the same value hash is a rename;
    the remaining ones were lost or added; a shared name whose hash differs was
    altered; shared names out of their sent order were reordered (those outside
    the longest run kept in order are named). Empty when nothing changed.
    """
    if list(sent) == list(arrived):
        return []
    sent_at = {n: i for i, (n, _) in enumerate(sent)}
    arrived_at = {n: i for i, (n, _) in enumerate(arrived)}
    sent_hash = dict(sent)
    arrived_hash = dict(arrived)
    lost = [n for n, _ in sent if n not in arrived_at]
    added = [n for n, _ in arrived if n not in sent_at]
    out: list[str] = []
    renamed: dict[str, str] = {}
    for old in lost:
        new = next(
            (
                a
                for a in added
                if a not in renamed.values() and arrived_hash[a] == sent_hash[old]
            ),
            None,
        )
        if new is not None:
            renamed[old] = new
    for old, new in renamed.items():
        out.append(f"renamed {old!r} (Parameter{sent_at[old] + 1}) to {new!r}")
    out += [f"lost {n!r} (Parameter{sent_at[n] + 1})" for n in lost if n not in renamed]
    out += [f"added {n!r}" for n in added if n not in renamed.values()]
    out += [
        f"altered the value of {n!r} (Parameter{sent_at[n] + 1})"
        for n, h in sent
        if n in arrived_at and arrived_hash[n] != h
    ]
    # order: the sent names as they arrived (renamed ones under their old name)
    back = {new: old for old, new in renamed.items()}
    kept = [n for n, _ in sent if n in arrived_at or n in renamed]
    seen = [back.get(n, n) for n, _ in arrived if back.get(n, n) in sent_at]
    if seen != kept:
        # a swap names both; a move names the one that left the longest kept run
        moved = [s for s, k in zip(seen, kept, strict=False) if s != k]
        if len(moved) > 2 or len(seen) != len(kept):
            matcher = difflib.SequenceMatcher(None, kept, seen, autojunk=False)
            in_place = {
                kept[b.a + k]
                for b in matcher.get_matching_blocks()
                for k in range(b.size)
            }
            moved = [n for n in seen if n not in in_place] or seen
        out += [
            f"reordered {n!r} (sent as Parameter{sent_at[n] + 1}, arrived "
            f"{seen.index(n) + 1}{_ordinal(seen.index(n) + 1)})"
            for n in moved
        ]
    if not out:  # e.g. a name sent twice: the lists differ in a way not named above
        out.append(f"{len(sent)} parameters sent, {len(arrived)} arrived, not the same")
    return out


def describe(changes: Sequence[str]) -> str:
    """One evidence line from :func:`differences` (the first few, then a count)."""
    shown = "; ".join(changes[:_EVIDENCE_ITEMS])
    rest = len(changes) - _EVIDENCE_ITEMS
    return shown + (f"; and {rest} more" if rest > 0 else "")


def _ordinal(n: int) -> str:
    if 10 <= n % 100 <= 20:
        return "th"
    return {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
