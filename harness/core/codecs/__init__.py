"""Codecs by their REST ``StreamCodec`` name (contract §1.1), one module per family."""

from __future__ import annotations

from harness.core.codecs.base import FRAME_MS, FRAME_NS, Codec, Samples
from harness.core.codecs.g711 import PCMA, PCMU
from harness.core.codecs.l16 import L16, L16_16K, L16_24K, ByteOrder
from harness.core.errors import ConfigError


__all__ = [
    "CODEC_NAMES",
    "FRAME_MS",
    "FRAME_NS",
    "ByteOrder",
    "Codec",
    "Samples",
    "codec_by_encoding",
    "get_codec",
]

_CLASSES: dict[str, type[Codec]] = {
    c.name: c for c in (PCMU, PCMA, L16, L16_16K, L16_24K)
}

CODEC_NAMES: tuple[str, ...] = tuple(_CLASSES)
"""Every ``StreamCodec`` value the REST enum allows, in the spec's order."""


def get_codec(name: str, byte_order: ByteOrder = "big") -> Codec:
    """Return the codec for a ``StreamCodec`` value.

    Raises:
        ConfigError: ``name`` is not in the REST enum.
    """
    cls = _CLASSES.get(name)
    if cls is None:
        raise ConfigError(
            "StreamCodec",
            f"{name!r} is not a known codec",
            f"use one of {', '.join(CODEC_NAMES)}",
        )
    if issubclass(cls, L16):
        return cls(byte_order)
    return cls()


def codec_by_encoding(encoding: str, sample_rate: int) -> str | None:
    """Map a ``start.mediaFormat`` back to its ``StreamCodec`` name, if any."""
    for name, cls in _CLASSES.items():
        if cls.encoding == encoding and cls.sample_rate == sample_rate:
            return name
    return None
