from __future__ import annotations

import pytest

from harness.core.codecs import CODEC_NAMES, FRAME_MS, get_codec


@pytest.mark.parametrize("name", CODEC_NAMES)
def test_frame_geometry_follows_rate_and_sample_size(name) -> None:
    codec = get_codec(name)
    assert codec.frame_samples == codec.sample_rate * FRAME_MS // 1000
    assert codec.frame_bytes == codec.frame_samples * codec.bytes_per_sample
    assert name in repr(codec)
