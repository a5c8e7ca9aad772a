"""reports.audio: every sampled payload against the reference tone, per codec and track."""

from __future__ import annotations

from pathlib import Path

from harness.core.audio import encoded_frames
from harness.core.codecs import get_codec
from reports.audio import AudioFacts
from reports.load import load_run
from reports.performance import analyse, stream_codecs
from tests.reports.helpers import RunBuilder


def sample(
    build: RunBuilder,
    sid: str,
    *,
    announced: str = "PCMU",
    sent_as: str = "PCMU",
    track: str = "inbound",
    chunks: range = range(1, 502, 50),
    order: str = "big",
) -> None:
    """The receiver's one-a-second samples of a track whose payloads are ``sent_as``."""
    frames = encoded_frames(get_codec(sent_as, order), track)  # type: ignore[arg-type]
    for chunk in chunks:
        payload = frames[(chunk - 1) % 50]
        build.receiver.add("audio_samples", (sid, track, chunk, announced, payload))


def test_a_faithful_run_and_a_wrong_codec(tmp_path: Path) -> None:
    build = RunBuilder(tmp_path)
    build.good_stream("MZ1", "req-1")
    sample(build, "MZ1")
    sample(build, "MZ1", track="outbound", chunks=range(1, 102, 50))
    build.good_stream("MZ2", "req-2", codec="PCMA")
    sample(build, "MZ2", announced="PCMA", sent_as="PCMU")  # µ-law sent as A-law
    performance = analyse(load_run(build.write()))

    pcmu = performance.codecs["PCMU"]["audio"]
    assert (pcmu["verdict"], pcmu["frames_checked"], pcmu["below_floor"]) == (
        "ok",
        14,
        0,
    )
    assert pcmu["basis"] == "reference tone"
    assert 35.0 <= pcmu["snr_db"]["min"] <= pcmu["snr_db"]["p50"] <= 48.0
    inbound = performance.tracks["PCMU"]["inbound"]["audio"]
    assert inbound["frames_checked"] == 11 and inbound["announced"] == {"PCMU": 11}

    pcma = performance.codecs["PCMA"]["audio"]
    assert pcma["verdict"] == "wrong-signal"
    assert pcma["below_floor"] == pcma["frames_checked"] == 11
    assert pcma["snr_db"]["p50"] < 10.0
    assert list(pcma["diagnosis"]) == ["PCMU"]  # the likeliest reading, named
    assert sum(pcma["diagnosis"].values()) == 11


def test_l16_byte_order_is_a_setting(tmp_path: Path) -> None:
    build = RunBuilder(tmp_path)
    build.good_stream("MZ1", "req-1", codec="L16@16000h")
    sample(build, "MZ1", announced="L16@16000h", sent_as="L16@16000h", order="little")
    run = load_run(build.write())

    big = analyse(run).codecs["L16@16000h"]["audio"]
    assert big["verdict"] == "wrong-signal"
    assert list(big["diagnosis"]) == ["L16@16000h little-endian"]
    little = AudioFacts(run, stream_codecs(run), "little").summary("L16@16000h")
    assert (little["verdict"], little["snr_db"]["min"]) == ("ok", 100.0)


def test_damaged_payloads_and_streams_without_a_reference(tmp_path: Path) -> None:
    build = RunBuilder(tmp_path)
    build.good_stream("MZ1", "req-1")
    sample(build, "MZ1", chunks=range(1, 202, 50))
    build.receiver.add("audio_samples", ("MZ1", "inbound", 251, "PCMU", b"\x00" * 160))
    build.receiver.add("audio_samples", ("MZ1", "inbound", 301, "PCMU", b"\xff" * 80))
    build.stream("MZ9", "req-9")  # the platform never logged it: no reference
    sample(build, "MZ9", chunks=range(1, 52, 50))
    audio = analyse(load_run(build.write())).codecs["PCMU"]["audio"]

    assert (audio["frames_sampled"], audio["frames_checked"]) == (9, 7)
    assert (audio["verdict"], audio["below_floor"]) == ("corrupted", 2)
    assert audio["diagnosis"] == {"unrecognised": 1, "silence": 1}


def test_without_the_reference_platform_nothing_is_checked(tmp_path: Path) -> None:
    build = RunBuilder(tmp_path)
    build.stream("MZ1", "req-1")
    build.media("MZ1", chunks=60, log=False)
    sample(build, "MZ1", chunks=range(1, 52, 50))
    audio = analyse(load_run(build.write())).codecs["PCMU"]["audio"]
    assert audio["basis"] is None
    assert (audio["frames_sampled"], audio["frames_checked"], audio["verdict"]) == (
        2, 0, "no-data",
    )  # fmt: skip
