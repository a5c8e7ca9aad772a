"""G.711 against CPython's audioop (an independent C implementation of ITU-T G.711)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, strategies as st
from hypothesis.extra.numpy import arrays

from harness.core.codecs.g711 import (
    PCMA,
    PCMU,
    alaw_decode,
    alaw_encode,
    ulaw_decode,
    ulaw_encode,
)


with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop

ALL_INT16 = np.arange(-32768, 32768, dtype=np.int16)
ALL_CODES = bytes(range(256))


def test_ulaw_encode_matches_audioop_on_every_sample() -> None:
    assert ulaw_encode(ALL_INT16) == audioop.lin2ulaw(ALL_INT16.tobytes(), 2)


def test_alaw_encode_matches_audioop_on_every_sample() -> None:
    assert alaw_encode(ALL_INT16) == audioop.lin2alaw(ALL_INT16.tobytes(), 2)


@pytest.mark.parametrize(
    ("decode", "reference"),
    [(ulaw_decode, audioop.ulaw2lin), (alaw_decode, audioop.alaw2lin)],
)
def test_decode_matches_audioop_on_every_code(decode, reference) -> None:
    assert (
        decode(ALL_CODES).tolist()
        == np.frombuffer(reference(ALL_CODES, 2), np.int16).tolist()
    )


@given(arrays(np.int16, st.integers(0, 400)))
def test_roundtrip_error_is_within_one_quantisation_step(samples) -> None:
    for codec in (PCMU(), PCMA()):
        decoded = codec.decode(codec.encode(samples)).astype(np.int32)
        error = np.abs(decoded - samples.astype(np.int32))
        # G.711 has a 4-bit mantissa: the step is at most 1/16 of the value (16 near zero)
        assert (error <= np.abs(samples.astype(np.int32)) // 16 + 16).all()


def test_frame_geometry() -> None:
    assert (PCMU().frame_bytes, PCMA().frame_bytes) == (160, 160)
    assert PCMU().encoding == "audio/x-mulaw"
