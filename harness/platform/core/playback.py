"""What a bidirectional stream plays back: the receiver's audio queue and its marks (pure).

contract §5.3: on a bidirectional stream (``StreamRealTime=true``) the receiver may
send ``media`` (audio the platform "queues … and plays sequentially"), ``mark``
(echoed "once the audio completes playing, or immediately if no audio is
queued") and ``clear`` (which "flushes the queue and returns pending marks").
This models the queue in real time: the streamer advances it by 20 ms with
each frame it sends, and echoes the marks it returns.
"""

from __future__ import annotations

import collections


__all__ = ["Playback"]


class Playback:
    """A FIFO of queued audio (as durations) and marks."""

    def __init__(self, frame_bytes: int, frame_ns: int) -> None:
        self._frame_bytes = frame_bytes
        self._frame_ns = frame_ns
        self._queue: collections.deque[int | str] = collections.deque()
        """Audio still to play as an ``int`` of ns, a mark as its ``str`` name."""
        self.media_received = 0
        self.played_ns = 0

    @property
    def queued_ns(self) -> int:
        """Audio waiting to be played."""
        return sum(e for e in self._queue if isinstance(e, int))

    def media(self, payload_bytes: int) -> None:
        """Queue one ``media`` message's audio (any length; it plays at the codec's rate)."""
        self.media_received += 1
        if payload_bytes > 0:
            self._queue.append(payload_bytes * self._frame_ns // self._frame_bytes)

    def mark(self, name: str) -> list[str]:
        """Queue a mark; return it at once when nothing is playing."""
        if not self._queue:
            return [name]
        self._queue.append(name)
        return []

    def clear(self) -> list[str]:
        """Drop the queued audio; return every pending mark, oldest first."""
        marks = [e for e in self._queue if isinstance(e, str)]
        self._queue.clear()
        return marks

    def advance(self, elapsed_ns: int) -> list[str]:
        """Play ``elapsed_ns`` of audio; return the marks whose audio has all played."""
        queue = self._queue
        done: list[str] = []
        left = elapsed_ns
        while queue:
            head = queue[0]
            if isinstance(head, str):
                done.append(head)
                queue.popleft()
            elif left <= 0:
                break
            elif head <= left:
                left -= head
                self.played_ns += head
                queue.popleft()
            else:
                queue[0] = head - left
                self.played_ns += left
                left = 0
        return done
