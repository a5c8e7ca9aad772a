"""Linear 16-bit PCM at 8, 16 or 24 kHz.

The byte order of L16 payloads is undocumented (contract §10): RTP's L16 is
big-endian (RFC 3551 §4.5.11), FreeSWITCH's native SLIN is host order. The
default is big-endian; both ends take it as a setting.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import numpy as np

from harness.core.codecs.base import Codec, Samples


__all__ = ["L16", "L16_16K", "L16_24K", "ByteOrder"]

ByteOrder = Literal["big", "little"]


class L16(Codec):
    """Bare ``L16``: 8 kHz is presumed (contract §10), 320 bytes a frame."""

    name: ClassVar[str] = "L16"
    encoding: ClassVar[str] = "audio/x-L16"
    sample_rate: ClassVar[int] = 8000
    bytes_per_sample: ClassVar[int] = 2

    def __init__(self, byte_order: ByteOrder = "big") -> None:
        self.byte_order: ByteOrder = byte_order
        self._dtype = np.dtype(">i2" if byte_order == "big" else "<i2")

    def encode(self, samples: Samples) -> bytes:
        return samples.astype(self._dtype).tobytes()

    def decode(self, payload: bytes) -> Samples:
        usable = len(payload) - len(payload) % 2
        return np.frombuffer(payload[:usable], dtype=self._dtype).astype(np.int16)


class L16_16K(L16):
    """``L16@16000h``: 640 bytes a frame."""

    name: ClassVar[str] = "L16@16000h"
    sample_rate: ClassVar[int] = 16000


class L16_24K(L16):
    """``L16@24000h``: 960 bytes a frame."""

    name: ClassVar[str] = "L16@24000h"
    sample_rate: ClassVar[int] = 24000
