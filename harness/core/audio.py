"""The reference platform's test signal, and audio fidelity against it.

The platform sends a known tone per track (:func:`tone`, :func:`encoded_frames`),
so a receiver-side payload can be compared sample by sample with what should
have been sent. The figure is the
signal-to-noise ratio (SNR, dB) of the decoded payload against the tone: a
clean G.711 round trip of the -6 dBFS tone gives about 35-38 dB, L16 is
bit-exact, and every common fault lands far below either (µ-law decoded as
A-law, the wrong byte order or rate, the other track's tone, silence, a
damaged payload). :func:`diagnose` names the fault by trying the other
readings of the same bytes.

Pure numpy; whole batches of frames decode in a few array operations, so a
report can check every sampled frame of a long run.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Final, Literal

import numpy as np
import numpy.typing as npt

from harness.core.codecs import (
    CODEC_NAMES,
    FRAME_MS,
    ByteOrder,
    Codec,
    Samples,
    get_codec,
)
from harness.core.codecs.g711 import PCMA, PCMU


__all__ = [
    "AMPLITUDE",
    "SNR_CAP_DB",
    "TONE_HZ",
    "AudioVerdict",
    "Reading",
    "decode_batch",
    "diagnose",
    "encoded_frames",
    "expected_frame",
    "floor_db",
    "snr_batch",
    "snr_db",
    "tone",
    "verdict",
]

# -- the test signal ---------------------------------------------------------
# Each track carries a pure tone at a whole number of hertz, so one second of
# it repeats seamlessly: the platform encodes 50 frames once and cycles them.

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


# -- fidelity ----------------------------------------------------------------

SNR_CAP_DB: Final = 100.0
"""Reported for a bit-exact payload (no noise at all), so JSON never holds inf."""
_SILENCE: Final = 0.01
"""A frame whose RMS is below this share of the tone's RMS is silence."""
_BLOCK_ROWS: Final = 16_384
"""Frames compared at once: bounds the temporary arrays of :func:`snr_batch`."""

AudioVerdict = Literal["ok", "corrupted", "wrong-signal", "no-data"]
"""``ok``: every frame at or above the codec's floor; ``corrupted``: most are,
some are not (damaged payloads); ``wrong-signal``: the typical frame is not the
tone announced (wrong codec, rate, byte order or track); ``no-data``."""

F64 = npt.NDArray[np.float64]


def floor_db(codec_name: str) -> float:
    """The lowest SNR a faithful frame of ``codec_name`` reaches, with margin.

    G.711 quantises the tone to about 38 dB (8 bits, companded), so 30 dB
    leaves room; L16 carries the tone exactly, so anything under 60 dB is a fault.
    """
    return 30.0 if codec_name in (PCMU.name, PCMA.name) else 60.0


@functools.cache
def _cycle(track: str, sample_rate: int) -> Samples:
    """One second of the track's tone: the signal repeats every ``sample_rate`` samples."""
    return tone(track, sample_rate, 0, sample_rate)


def expected_frame(codec: Codec, track: str, chunk: int, samples: int = 0) -> Samples:
    """The tone samples chunk ``chunk`` (from 1) of ``track`` carries in ``codec``.

    Chunk k starts at sample (k-1) x frame_samples (:func:`encoded_frames`);
    ``samples`` overrides the length (0: one frame).
    """
    rate = codec.sample_rate
    start = ((chunk - 1) * codec.frame_samples) % rate
    count = samples or codec.frame_samples
    return _cycle(track, rate)[(start + np.arange(count)) % rate]


def snr_db(decoded: Samples, expected: Samples) -> float:
    """SNR of ``decoded`` against ``expected`` in dB, capped at :data:`SNR_CAP_DB`.

    The shorter is padded with zeros, so missing or extra samples count as noise.
    """
    n = max(len(decoded), len(expected))
    d = np.zeros(n, np.float64)
    e = np.zeros(n, np.float64)
    d[: len(decoded)] = decoded
    e[: len(expected)] = expected
    return float(_snr(np.sum(e * e), np.sum((d - e) ** 2)))


def _snr(signal: F64 | float, noise: F64 | float) -> F64:
    """Vectorised 10 log10(signal / noise) with the cap; no signal gives -cap."""
    s = np.asarray(signal, np.float64)
    z = np.asarray(noise, np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = 10.0 * np.log10(s / z)
    out = np.where(z == 0, SNR_CAP_DB, out)
    out = np.where((s == 0) & (z > 0), -SNR_CAP_DB, out)
    return np.clip(out, -SNR_CAP_DB, SNR_CAP_DB)


def decode_batch(codec: Codec, payloads: npt.NDArray[np.uint8]) -> Samples:
    """Decode equal-length payloads (one per row) to int16 samples, one row each."""
    if not payloads.size:
        return np.zeros((len(payloads), 0), np.int16)
    if codec.bytes_per_sample == 1:
        return codec.decode(payloads.tobytes()).reshape(len(payloads), -1)
    usable = payloads[:, : payloads.shape[1] - payloads.shape[1] % 2]
    return codec.decode(np.ascontiguousarray(usable).tobytes()).reshape(
        len(payloads), -1
    )


def snr_batch(
    codec: Codec,
    track: str,
    chunks: npt.NDArray[np.int64],
    payloads: npt.NDArray[np.uint8],
) -> F64:
    """SNR (dB) of each payload row against its chunk's tone, as :func:`snr_db`.

    Args:
        codec: the codec the payloads are read as.
        track: ``inbound`` or ``outbound`` (:data:`TONE_HZ`).
        chunks: each row's ``media.chunk`` (from 1).
        payloads: one payload per row, all the same length.
    """
    rate, per = codec.sample_rate, codec.frame_samples
    cycle = _cycle(track, rate).astype(np.float64)
    out = np.empty(len(chunks), np.float64)
    for lo in range(0, len(chunks), _BLOCK_ROWS):
        hi = min(lo + _BLOCK_ROWS, len(chunks))
        decoded = decode_batch(codec, payloads[lo:hi]).astype(np.float64)
        got = decoded.shape[1]
        n = max(got, per)
        start = ((chunks[lo:hi] - 1) * per) % rate
        expected = cycle[(start[:, None] + np.arange(n)[None, :]) % rate]
        expected[:, per:] = 0.0  # samples past one frame should not be there
        if got < n:
            decoded = np.pad(decoded, ((0, 0), (0, n - got)))
        signal = np.sum(expected * expected, axis=1)
        out[lo:hi] = _snr(signal, np.sum((decoded - expected) ** 2, axis=1))
    return out


@dataclasses.dataclass(frozen=True, slots=True)
class Reading:
    """One way of reading a payload, and how well it matches a tone that way."""

    label: str
    """E.g. ``PCMA``, ``L16 little-endian``, ``L16@16000h``, ``PCMU, outbound tone``."""
    snr_db: float


def _readings(
    codec_name: str, track: str, byte_order: ByteOrder
) -> list[tuple[str, Codec, str]]:
    """Every (label, codec, track) reading to try, the announced one first."""
    other = {"inbound": "outbound", "outbound": "inbound"}.get(track, track)
    out: list[tuple[str, Codec, str]] = []
    orders: tuple[ByteOrder, ...] = (
        byte_order,
        "little" if byte_order == "big" else "big",
    )
    for name in CODEC_NAMES:
        for order in orders if name.startswith("L16") else ("big",):
            codec = get_codec(name, order)
            label = (
                name
                if order == byte_order or not name.startswith("L16")
                else (f"{name} {order}-endian")
            )
            out.append((label, codec, track))
            if other != track:
                out.append((f"{label}, {other} tone", codec, other))
    out.sort(key=lambda r: (r[0] != codec_name, r[0]))
    return out


def diagnose(
    payload: bytes,
    codec_name: str,
    track: str,
    chunk: int,
    byte_order: ByteOrder = "big",
) -> Reading:
    """Name what a payload most likely is when it fails its announced codec.

    Tries every codec, rate, L16 byte order and both tracks' tones and returns
    the best reading that reaches its codec's floor; ``silence`` for a
    near-empty frame; ``unrecognised`` (with the announced reading's SNR) when
    nothing fits, which points at a damaged payload.
    """
    if track not in TONE_HZ:
        return Reading("unknown track", -SNR_CAP_DB)
    announced = get_codec(codec_name, byte_order)
    decoded = announced.decode(payload)
    reference = expected_frame(announced, track, chunk)
    base = snr_db(decoded, reference)
    if base >= floor_db(codec_name):
        return Reading(codec_name, base)
    rms = (
        float(np.sqrt(np.mean(decoded.astype(np.float64) ** 2)))
        if len(decoded)
        else 0.0
    )
    if rms < _SILENCE * float(np.sqrt(np.mean(reference.astype(np.float64) ** 2))):
        return Reading("silence", base)
    best: Reading | None = None
    for label, codec, tone_track in _readings(codec_name, track, byte_order):
        samples = codec.decode(payload)
        # Read at the codec's own timing: chunk k starts at (k-1) x 20 ms of its rate.
        reference = expected_frame(codec, tone_track, chunk, len(samples))
        got = snr_db(samples, reference)
        if got >= floor_db(codec.name) and (best is None or got > best.snr_db):
            best = Reading(label, got)
    return best or Reading("unrecognised", base)


def verdict(snrs: F64, codec_name: str) -> AudioVerdict:
    """One word for a set of frame SNRs of one codec (see :data:`AudioVerdict`)."""
    if not len(snrs):
        return "no-data"
    floor = floor_db(codec_name)
    if float(np.median(snrs)) < floor:
        return "wrong-signal"
    return "ok" if float(np.min(snrs)) >= floor else "corrupted"
