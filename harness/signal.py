"""The reference platform's known test signal, so receivers can check audio per codec.

Each track carries a pure tone at a whole number of hertz, so one second of it
repeats seamlessly: the platform encodes 50 frames once and cycles them.
"""

from __future__ import annotations

import numpy as np

from harness.codecs import FRAME_MS, Codec, Samples


__all__ = ["AMPLITUDE", "TONE_HZ", "encoded_frames", "tone"]

TONE_HZ: dict[str, int] = {"inbound": 440, "outbound": 1000}
"""Tone frequency per media track."""

AMPLITUDE = 16000
"""Peak amplitude, about -6 dBFS: loud enough to measure, far from clipping."""

FRAMES_PER_CYCLE = 1000 // FRAME_MS


def tone(track: str, sample_rate: int, first_sample: int, count: int) -> Samples:
    """Return ``count`` samples of the track's tone starting at ``first_sample``."""
    n = np.arange(first_sample, first_sample + count, dtype=np.float64)
    wave = AMPLITUDE * np.sin(2.0 * np.pi * TONE_HZ[track] * n / sample_rate)
    return np.round(wave).astype(np.int16)


def encoded_frames(codec: Codec, track: str) -> list[bytes]:
    """Encode one second of the track's tone as 50 frames; chunk k uses frame (k-1) % 50."""
    per = codec.frame_samples
    return [
        codec.encode(tone(track, codec.sample_rate, i * per, per))
        for i in range(FRAMES_PER_CYCLE)
    ]
