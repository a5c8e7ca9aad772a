"""harness.core.audio: the reference tone, SNR against it, and naming what a bad frame is."""

from __future__ import annotations

import numpy as np
import pytest

from harness.core.audio import (
    SNR_CAP_DB,
    TONE_HZ,
    decode_batch,
    diagnose,
    encoded_frames,
    expected_frame,
    floor_db,
    snr_batch,
    snr_db,
    tone,
    verdict,
)
from harness.core.codecs import CODEC_NAMES, get_codec


def frames(name: str, track: str, chunks: range, order: str = "big") -> np.ndarray:
    """The platform's payloads of ``chunks`` (chunk k uses frame (k-1) % 50)."""
    cycle = encoded_frames(get_codec(name, order), track)  # type: ignore[arg-type]
    joined = b"".join(cycle[(k - 1) % 50] for k in chunks)
    return np.frombuffer(joined, np.uint8).reshape(len(chunks), -1)


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
        cycle = encoded_frames(codec, "outbound")
        assert len(cycle) == 50 and {len(f) for f in cycle} == {codec.frame_bytes}


def test_expected_frame_is_the_tone_at_the_chunks_offset() -> None:
    codec = get_codec("L16@16000h")
    got = expected_frame(codec, "outbound", 3)
    assert got.tolist() == tone("outbound", 16000, 640, 320).tolist()
    # chunk 51 starts the second second: the same samples as chunk 1
    assert expected_frame(codec, "outbound", 51).tolist() == (
        expected_frame(codec, "outbound", 1).tolist()
    )


def test_snr_hand_worked() -> None:
    e = np.array([100, -100, 100, -100], np.int16)
    assert snr_db(e, e) == SNR_CAP_DB
    # noise of 10 on every sample: 10 log10(100^2 / 10^2) = 20 dB
    assert snr_db(e + 10, e) == pytest.approx(20.0)
    # a missing half counts as noise: signal 4e4, noise 2e4 -> 3.01 dB
    assert snr_db(e[:2], e) == pytest.approx(10 * np.log10(2))
    assert snr_db(e, np.zeros(4, np.int16)) == -SNR_CAP_DB


@pytest.mark.parametrize("name", CODEC_NAMES)
@pytest.mark.parametrize("track", ["inbound", "outbound"])
def test_the_reference_platforms_frames_pass(name: str, track: str) -> None:
    chunks = range(1, 121)
    snrs = snr_batch(
        get_codec(name),
        track,
        np.arange(1, 121, dtype=np.int64),
        frames(name, track, chunks),
    )
    assert verdict(snrs, name) == "ok"
    if name.startswith("L16"):
        assert snrs.min() == SNR_CAP_DB  # bit-exact
    else:
        assert 35.0 <= snrs.min() <= 48.0  # G.711 quantisation of a -6 dBFS tone


def test_batch_agrees_with_one_by_one() -> None:
    codec = get_codec("PCMA")
    payloads = frames("PCMA", "inbound", range(7, 12))
    got = snr_batch(codec, "inbound", np.arange(7, 12, dtype=np.int64), payloads)
    one = [
        snr_db(codec.decode(p.tobytes()), expected_frame(codec, "inbound", k))
        for k, p in zip(range(7, 12), payloads, strict=True)
    ]
    assert got.tolist() == pytest.approx(one)
    assert decode_batch(codec, payloads[:0]).shape == (0, 0)


def test_the_common_faults_fail_far_below_the_floor() -> None:
    chunks = np.arange(1, 51, dtype=np.int64)
    pcmu = frames("PCMU", "inbound", range(1, 51))
    as_alaw = snr_batch(get_codec("PCMA"), "inbound", chunks, pcmu)
    other_track = snr_batch(get_codec("PCMU"), "outbound", chunks, pcmu)
    little = frames("L16", "inbound", range(1, 51), "little")
    swapped = snr_batch(get_codec("L16"), "inbound", chunks, little)
    for snrs, name in ((as_alaw, "PCMA"), (other_track, "PCMU"), (swapped, "L16")):
        assert verdict(snrs, name) == "wrong-signal"
        assert float(np.median(snrs)) < 10.0


def test_a_few_damaged_frames_are_corruption() -> None:
    payloads = frames("PCMU", "inbound", range(1, 21)).copy()
    payloads[3, 40:120] = 0x00  # a burst of full-scale garbage
    snrs = snr_batch(
        get_codec("PCMU"), "inbound", np.arange(1, 21, dtype=np.int64), payloads
    )
    assert verdict(snrs, "PCMU") == "corrupted"
    assert int(np.sum(snrs < floor_db("PCMU"))) == 1
    assert verdict(snrs[:0], "PCMU") == "no-data"


@pytest.mark.parametrize(
    ("payload_codec", "order", "track", "announced", "label"),
    [
        ("PCMU", "big", "inbound", "PCMA", "PCMU"),
        ("PCMA", "big", "inbound", "PCMU", "PCMA"),
        ("L16", "little", "inbound", "L16", "L16 little-endian"),
        ("L16@16000h", "big", "outbound", "L16", "L16@16000h"),
        ("L16", "big", "inbound", "L16@24000h", "L16"),
        ("PCMU", "big", "outbound", "PCMU", "PCMU, outbound tone"),
    ],
)
def test_diagnose_names_the_fault(
    payload_codec: str, order: str, track: str, announced: str, label: str
) -> None:
    payload = frames(payload_codec, track, range(9, 10), order)[0].tobytes()
    announced_track = "inbound"
    reading = diagnose(payload, announced, announced_track, 9)
    if track != announced_track and payload_codec == announced:
        assert reading.label == label
    else:
        assert reading.label.split(",")[0] == label
    assert reading.snr_db >= floor_db(payload_codec)


def test_diagnose_silence_noise_and_a_good_frame() -> None:
    good = frames("PCMU", "inbound", range(4, 5))[0].tobytes()
    assert diagnose(good, "PCMU", "inbound", 4).label == "PCMU"
    assert diagnose(b"\xff" * 160, "PCMU", "inbound", 4).label == "silence"
    noise = np.random.default_rng(1).integers(0, 256, 160, np.uint8).tobytes()
    assert diagnose(noise, "PCMU", "inbound", 4).label == "unrecognised"
    assert diagnose(good, "PCMU", "nowhere", 4).label == "unknown track"
