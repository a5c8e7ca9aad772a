"""The codec interface: one REST ``StreamCodec`` value, its wire format and 20 ms frame."""

from __future__ import annotations

import abc
from typing import ClassVar

import numpy as np
import numpy.typing as npt


__all__ = ["FRAME_MS", "FRAME_NS", "Codec", "Samples"]

Samples = npt.NDArray[np.int16]
"""Mono linear PCM, one int16 per sample."""

FRAME_MS = 20
"""Frame duration: contract §5.5 infers 20 ms per ``media`` message per track."""
FRAME_NS = FRAME_MS * 1_000_000
"""The same in ns, the unit of every clock reading and record."""


class Codec(abc.ABC):
    """A stream codec: what the ``start`` message announces and how payloads encode.

    Subclasses set the class attributes and implement the two methods.
    """

    name: ClassVar[str]
    """The REST ``StreamCodec`` value (contract §1.1), e.g. ``"L16@16000h"``."""
    encoding: ClassVar[str]
    """``start.mediaFormat.encoding`` (contract §5.2)."""
    sample_rate: ClassVar[int]
    """``start.mediaFormat.sampleRate`` in Hz."""
    bytes_per_sample: ClassVar[int]

    @property
    def frame_samples(self) -> int:
        """Samples in one 20 ms frame."""
        return self.sample_rate * FRAME_MS // 1000

    @property
    def frame_bytes(self) -> int:
        """Payload bytes of one 20 ms frame (contract §5.5 table)."""
        return self.frame_samples * self.bytes_per_sample

    @abc.abstractmethod
    def encode(self, samples: Samples) -> bytes:
        """Encode linear PCM into this codec's payload bytes."""

    @abc.abstractmethod
    def decode(self, payload: bytes) -> Samples:
        """Decode payload bytes into linear PCM."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"
