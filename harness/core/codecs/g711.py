"""G.711 µ-law (PCMU) and A-law (PCMA), vectorised with numpy (ITU-T G.711).

Decoding goes through a 256-entry table; encoding follows the reference
segment search (Sun's public-domain ``g711.c``), written over whole arrays so a
frame costs one numpy call, not 160 Python steps.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from harness.core.codecs.base import Codec, Samples


__all__ = ["PCMA", "PCMU", "alaw_decode", "alaw_encode", "ulaw_decode", "ulaw_encode"]

_ULAW_BIAS = 0x21
_ULAW_CLIP = 8159


def _ulaw_table() -> Samples:
    u = (~np.arange(256, dtype=np.int32)) & 0xFF
    exponent = (u >> 4) & 0x07
    mantissa = u & 0x0F
    magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84
    return np.where(u & 0x80, -magnitude, magnitude).astype(np.int16)


def _alaw_table() -> Samples:
    a = np.arange(256, dtype=np.int32) ^ 0x55
    seg = (a & 0x70) >> 4
    t = (a & 0x0F) << 4
    t = np.where(seg == 0, t + 8, t + 0x108)
    t = np.where(seg > 1, t << np.maximum(seg - 1, 0), t)
    return np.where(a & 0x80, t, -t).astype(np.int16)


_ULAW_DECODE = _ulaw_table()
_ALAW_DECODE = _alaw_table()


def ulaw_encode(samples: Samples) -> bytes:
    """Encode int16 PCM to µ-law bytes (14-bit form of ITU-T G.191, as CPython's audioop)."""
    pcm = samples.astype(np.int32) >> 2
    negative = pcm < 0
    mask = np.where(negative, 0x7F, 0xFF)
    pcm = np.minimum(np.where(negative, -pcm, pcm), _ULAW_CLIP) + _ULAW_BIAS
    seg = np.zeros_like(pcm)
    for bound in (0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF):
        seg += pcm > bound
    uval = (np.minimum(seg, 7) << 4) | ((pcm >> (np.minimum(seg, 7) + 1)) & 0x0F)
    uval = np.where(seg >= 8, 0x7F, uval)
    return ((uval ^ mask) & 0xFF).astype(np.uint8).tobytes()


def ulaw_decode(payload: bytes) -> Samples:
    """Decode µ-law bytes to int16 PCM."""
    return _ULAW_DECODE[np.frombuffer(payload, dtype=np.uint8)]


def alaw_encode(samples: Samples) -> bytes:
    """Encode int16 PCM to A-law bytes."""
    pcm = samples.astype(np.int32) >> 3
    negative = pcm < 0
    mask = np.where(negative, 0x55, 0xD5)
    pcm = np.where(negative, -pcm - 1, pcm)
    # segment = number of bits above the 5 low ones, 0..7 (8 means clip)
    seg = np.zeros_like(pcm)
    for bound in (0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF):
        seg += pcm > bound
    shift = np.where(seg < 2, 1, seg)
    aval = (np.minimum(seg, 7) << 4) | ((pcm >> shift) & 0x0F)
    aval = np.where(seg >= 8, 0x7F, aval)
    return ((aval ^ mask) & 0xFF).astype(np.uint8).tobytes()


def alaw_decode(payload: bytes) -> Samples:
    """Decode A-law bytes to int16 PCM."""
    return _ALAW_DECODE[np.frombuffer(payload, dtype=np.uint8)]


class PCMU(Codec):
    """G.711 µ-law at 8 kHz: 160 bytes a frame (contract §5.2, §5.5)."""

    name: ClassVar[str] = "PCMU"
    encoding: ClassVar[str] = "audio/x-mulaw"
    sample_rate: ClassVar[int] = 8000
    bytes_per_sample: ClassVar[int] = 1

    def encode(self, samples: Samples) -> bytes:
        return ulaw_encode(samples)

    def decode(self, payload: bytes) -> Samples:
        return ulaw_decode(payload)


class PCMA(Codec):
    """G.711 A-law at 8 kHz. Its ``encoding`` string is undocumented (contract §10);
    ``audio/x-alaw`` follows the µ-law naming."""

    name: ClassVar[str] = "PCMA"
    encoding: ClassVar[str] = "audio/x-alaw"
    sample_rate: ClassVar[int] = 8000
    bytes_per_sample: ClassVar[int] = 1

    def encode(self, samples: Samples) -> bytes:
        return alaw_encode(samples)

    def decode(self, payload: bytes) -> Samples:
        return alaw_decode(payload)
