"""The bidirectional playback queue: media, mark and clear as contract §5.3 describes."""

from __future__ import annotations

from harness.core.codecs import FRAME_NS
from harness.platform.core.playback import Playback


def test_a_mark_with_nothing_queued_comes_back_at_once() -> None:
    playback = Playback(160, FRAME_NS)
    assert playback.mark("a") == ["a"]
    assert playback.advance(FRAME_NS) == []


def test_marks_come_back_when_the_audio_before_them_has_played() -> None:
    playback = Playback(160, FRAME_NS)
    playback.media(320)  # 40 ms of PCMU
    assert playback.mark("after-40ms") == []
    playback.media(80)  # 10 ms more
    assert playback.mark("after-50ms") == []
    assert playback.queued_ns == 50_000_000
    assert playback.advance(FRAME_NS) == []
    assert playback.advance(FRAME_NS) == ["after-40ms"]
    assert playback.advance(FRAME_NS) == ["after-50ms"]
    assert playback.played_ns == 50_000_000
    assert playback.media_received == 2
    assert playback.mark("idle") == ["idle"]


def test_clear_drops_the_audio_and_returns_pending_marks() -> None:
    playback = Playback(640, FRAME_NS)
    playback.media(640 * 10)
    playback.mark("one")
    playback.media(640)
    playback.mark("two")
    assert playback.clear() == ["one", "two"]
    assert playback.queued_ns == 0
    assert playback.advance(FRAME_NS) == []
    playback.media(0)  # an empty payload queues nothing
    assert playback.mark("now") == ["now"]
