from __future__ import annotations

import numpy as np
from hypothesis import given, strategies as st
from hypothesis.extra.numpy import arrays

from harness.core.codecs.l16 import L16, L16_16K, L16_24K


def test_frame_bytes_per_rate() -> None:
    """contract §5.5: 320, 640 and 960 bytes per 20 ms."""
    assert [c().frame_bytes for c in (L16, L16_16K, L16_24K)] == [320, 640, 960]


def test_big_endian_is_network_order() -> None:
    assert L16().encode(np.array([1, -2], dtype=np.int16)) == b"\x00\x01\xff\xfe"
    assert L16(byte_order="little").encode(np.array([1], dtype=np.int16)) == b"\x01\x00"


@given(arrays(np.int16, st.integers(0, 500)), st.sampled_from(["big", "little"]))
def test_roundtrip_is_exact(samples, order) -> None:
    codec = L16_16K(order)
    assert codec.decode(codec.encode(samples)).tolist() == samples.tolist()


def test_odd_length_payload_decodes_whole_samples_only() -> None:
    assert L16().decode(b"\x00\x01\x02").tolist() == [1]
