"""Tie each stream to the request that made it, through the data alone.

Every start request carries one custom parameter, ``streamload``, whose value
names the run, the request, and what was asked for (codec, track, how many
other parameters and a digest of them). The platform echoes it in
``start.customParameters`` (api.md §5.2, §3 ``<Parameter>``), so a receiver can
check the stream against the request without any side channel, against the
reference platform and a real one alike. It takes one of the 99 parameter slots.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterable, Mapping


__all__ = ["PARAM_NAME", "Expectation", "digest"]

PARAM_NAME = "streamload"
_VERSION = "v1"


def digest(parameters: Iterable[tuple[str, str]]) -> str:
    """Hash the (name, value) pairs, order-free, to 16 hex digits."""
    h = hashlib.sha256()
    for name, value in sorted(parameters):
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
        """True when the other parameters are exactly those the request sent."""
        others = [(k, v) for k, v in parameters.items() if k != PARAM_NAME]
        return len(others) == self.n_params and digest(others) == self.params_digest
