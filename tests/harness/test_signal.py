from __future__ import annotations

import numpy as np

from harness.codecs import get_codec
from harness.signal import TONE_HZ, encoded_frames, tone


def test_one_second_cycles_seamlessly() -> None:
    """Frame 50 of the cycle must equal frame 0 of the next second."""
    assert (
        tone("inbound", 8000, 8000, 160).tolist()
        == tone("inbound", 8000, 0, 160).tolist()
    )


def test_tone_has_the_tracks_frequency() -> None:
    for track, hz in TONE_HZ.items():
        samples = tone(track, 16000, 0, 16000).astype(np.float64)
        peak = int(np.argmax(np.abs(np.fft.rfft(samples))))
        assert peak == hz  # 1 s of signal: bin index = Hz


def test_encoded_frames_have_the_codec_frame_size() -> None:
    for name in ("PCMU", "L16@24000h"):
        codec = get_codec(name)
        frames = encoded_frames(codec, "outbound")
        assert len(frames) == 50 and {len(f) for f in frames} == {codec.frame_bytes}
