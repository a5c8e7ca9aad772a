"""Judge each received stream against its request, joined by sid (sans-I/O).

The receiver judges WS-START-001..003 live against the ``streamload``
parameter (:mod:`harness.core.correlation`). A platform that drops or alters that
very parameter leaves the receiver with no expectation, or a wrong one, and
the run would pass. What no platform can drop is the stream's identity: the
create answer's ``sid`` is ``start.streamSid``. So the report pairs every
received stream with the request whose answer carried its sid and judges the
``start`` message again against what was really asked (codec, track, the
exact parameters in order), with evidence naming each parameter that was
lost, added, renamed, altered or moved. Its verdicts *supersede* the
receiver's for those rules on joined streams (:attr:`Joined.superseded`), so
a stream is counted once, and an altered correlation value cannot fool the
checker. Where the receiver judged the media against a codec or tracks other
than the ones requested, WS-MEDIA-001 and WS-MEDIA-003 are judged again from
the stream's frame counts (:class:`FrameFacts`), when the caller has them.

The join also judges what only it can: that ``start.streamSid`` is the sid
the create answer gave (WS-START-005: a stream whose sid no answer carried is
tied to its request by the ``streamload`` value's request id instead, and
fails it), and that ``start.accountSid`` is the account the request was made
on (WS-START-006, where both are recorded).

Streams with no request of their sid nor of their request id (records of
another driver, a receiver run alone) keep the receiver's verdicts.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Final

from harness.core.api import TRACK_MEDIA
from harness.core.codecs import CODEC_NAMES, codec_by_encoding, get_codec
from harness.core.correlation import (
    PARAM_NAME,
    Expectation,
    describe,
    differences,
    unfold,
)
from harness.core.rules import Checker


__all__ = [
    "SOURCE",
    "START_RULES",
    "ArrivedStream",
    "FrameFacts",
    "Joined",
    "SentRequest",
    "join",
    "judge",
    "needs_frames",
]

SOURCE: Final = "join"
"""``rule_checks.source`` of the rows the join writes."""
START_RULES: Final = ("WS-START-001", "WS-START-002", "WS-START-003")
"""The rules the join judges on every joined stream (superseding the receiver's)."""


@dataclasses.dataclass(frozen=True, slots=True)
class SentRequest:
    """A start request that got a sid (a ``requests`` row of kind ``start``)."""

    request_id: str
    stream_sid: str
    codec: str
    track: str
    params: str
    """:func:`harness.core.correlation.fingerprint` of the parameters sent, in order."""
    correlation: str
    """The ``streamload`` value sent; ``""``: none was sent (nothing to judge)."""
    account_sid: str = ""
    """The AccountSid of the request URL; ``""``: not recorded (WS-START-006 not judged)."""


@dataclasses.dataclass(frozen=True, slots=True)
class ArrivedStream:
    """What a receiver saw in ``start`` (a ``streams`` row)."""

    stream_sid: str
    tracks: str
    """``start.tracks`` comma-joined."""
    media_format: str
    """``encoding;sampleRate;channels``; ``""``: no start arrived."""
    params: str
    """:func:`harness.core.correlation.fingerprint` of ``start.customParameters``."""
    correlation: str
    """The ``streamload`` value received (``""``: absent; the fingerprint tells)."""
    account_sid: str = ""
    """``start.accountSid``; ``""``: not recorded (WS-START-006 not judged)."""


@dataclasses.dataclass(frozen=True, slots=True)
class FrameFacts:
    """One stream's received frames, counted by track and by payload size."""

    by_track: Mapping[str, int]
    by_size: Mapping[int, int]


@dataclasses.dataclass(slots=True)
class Joined:
    """The join's verdicts: one checker per joined stream, and what they replace."""

    checkers: list[Checker] = dataclasses.field(default_factory=list)
    superseded: set[tuple[str, str]] = dataclasses.field(default_factory=set)
    """(stream sid, rule) pairs whose receiver rows the join's replace."""


def _format(media_format: str) -> tuple[str | None, int]:
    """(codec name or None, channels) of ``encoding;sampleRate;channels``."""
    encoding, _, rest = media_format.partition(";")
    rate, _, channels = rest.partition(";")
    try:
        return codec_by_encoding(encoding, int(rate)), int(channels)
    except ValueError:
        return None, 0


def _receiver_basis(arrived: ArrivedStream) -> tuple[str | None, tuple[str, ...]]:
    """The codec and tracks the receiver judged the media against (session.py):
    the ones its ``streamload`` value named, else the ones start announced."""
    announced, _ = _format(arrived.media_format)
    tracks = tuple(sorted(t for t in arrived.tracks.split(",") if t))
    exp = Expectation.decode(arrived.correlation) if arrived.correlation else None
    if exp is None:
        return announced, tracks
    codec = exp.codec if exp.codec in CODEC_NAMES else announced
    return codec, tuple(sorted(TRACK_MEDIA.get(exp.track, tracks)))


def needs_frames(sent: SentRequest, arrived: ArrivedStream) -> bool:
    """Whether the receiver judged this stream's media against the wrong codec
    or tracks, so the join must judge WS-MEDIA-001/003 again from its frames."""
    codec, tracks = _receiver_basis(arrived)
    wanted = tuple(sorted(TRACK_MEDIA.get(sent.track, ())))
    if tracks != wanted:
        return True
    if sent.codec not in CODEC_NAMES:
        return False
    return codec is None or (
        get_codec(codec).frame_bytes != get_codec(sent.codec).frame_bytes
    )


def judge(
    sent: SentRequest,
    arrived: ArrivedStream,
    frames: FrameFacts | None = None,
    *,
    at_ns: int = 0,
) -> tuple[Checker, set[str]]:
    """Judge one stream's ``start`` (and, if needed, its media) against its request.

    Returns the checker (subject: the stream sid) and the rules it judged.
    """
    checker = Checker(arrived.stream_sid)
    check = checker.check
    codec, channels = _format(arrived.media_format)
    check(
        "WS-START-001",
        codec is not None and channels == 1 and codec == sent.codec,
        expected=f"{sent.codec}, 1 channel (request {sent.request_id}, joined by sid)",
        actual=arrived.media_format.replace(";", " ") or "no mediaFormat",
        at_ns=at_ns,
    )
    tracks = [t for t in arrived.tracks.split(",") if t]
    wanted = list(TRACK_MEDIA.get(sent.track, ()))
    check(
        "WS-START-002",
        sorted(tracks) == sorted(wanted),
        expected=f"{wanted} (request {sent.request_id}, joined by sid)",
        actual=tracks,
        at_ns=at_ns,
    )
    sent_pairs = unfold(sent.params, sent.correlation)
    arrived_pairs = unfold(arrived.params, arrived.correlation)
    changes = differences(sent_pairs, arrived_pairs)
    check(
        "WS-START-003",
        not changes,
        expected=f"the {len(sent_pairs)} parameters of request {sent.request_id} "
        f"in the order sent, {PARAM_NAME} last (joined by sid)",
        actual=describe(changes),
        at_ns=at_ns,
    )
    judged = set(START_RULES)
    if frames is not None and needs_frames(sent, arrived):
        judged |= _media(checker, sent, frames, at_ns)
    _identity(checker, sent, arrived, at_ns)
    return checker, judged


def _identity(
    checker: Checker, sent: SentRequest, arrived: ArrivedStream, at_ns: int
) -> None:
    """WS-START-005 and -006: the stream's sid and account are its request's."""
    checker.check(
        "WS-START-005",
        arrived.stream_sid == sent.stream_sid,
        expected=f"{sent.stream_sid} (the create answer's sid, request {sent.request_id})",
        actual=arrived.stream_sid,
        at_ns=at_ns,
    )
    if sent.account_sid and arrived.account_sid:
        checker.check(
            "WS-START-006",
            arrived.account_sid == sent.account_sid,
            expected=f"{sent.account_sid} (the account of request {sent.request_id})",
            actual=arrived.account_sid,
            at_ns=at_ns,
        )


def _media(
    checker: Checker, sent: SentRequest, frames: FrameFacts, at_ns: int
) -> set[str]:
    """WS-MEDIA-001 and -003 from frame counts, against the requested track and codec."""
    total = sum(frames.by_track.values())
    if not total:
        return set()
    wanted = TRACK_MEDIA.get(sent.track, ())
    off_track = {t: n for t, n in frames.by_track.items() if t not in wanted}
    _bulk(
        checker,
        "WS-MEDIA-001",
        total,
        sum(off_track.values()),
        expected=f"{list(wanted)} (request {sent.request_id}, joined by sid)",
        actual=", ".join(f"{n} frames on {t!r}" for t, n in sorted(off_track.items())),
        at_ns=at_ns,
    )
    judged = {"WS-MEDIA-001"}
    if sent.codec in CODEC_NAMES:
        size = get_codec(sent.codec).frame_bytes
        wrong = {b: n for b, n in frames.by_size.items() if b != size}
        _bulk(
            checker,
            "WS-MEDIA-003",
            sum(frames.by_size.values()),
            sum(wrong.values()),
            expected=f"{size} bytes per frame ({sent.codec}, request "
            f"{sent.request_id}, joined by sid)",
            actual=", ".join(
                f"{n} frames of {b} bytes" for b, n in sorted(wrong.items())
            ),
            at_ns=at_ns,
        )
        judged.add("WS-MEDIA-003")
    return judged


def _bulk(
    checker: Checker,
    rule: str,
    checks: int,
    failures: int,
    *,
    expected: str,
    actual: str,
    at_ns: int,
) -> None:
    """Record ``checks`` outcomes of which ``failures`` failed (one piece of evidence)."""
    checker.passes(rule, checks - failures)
    if failures:
        checker.check(rule, False, expected=expected, actual=actual, at_ns=at_ns)
        checker.counts[rule].checks += failures - 1
        checker.counts[rule].failures += failures - 1


def join(
    requests: Iterable[SentRequest],
    streams: Iterable[ArrivedStream],
    frames: Mapping[str, FrameFacts] | None = None,
) -> Joined:
    """Judge every received stream whose sid a start request's answer carried.

    ``frames`` holds the frame counts of the streams :func:`needs_frames`
    named (others are not read); a stream without them keeps the receiver's
    media verdicts.
    """
    by_sid: dict[str, SentRequest] = {}
    by_id: dict[str, SentRequest] = {}
    for request in requests:
        if request.stream_sid and request.correlation:
            by_sid.setdefault(request.stream_sid, request)
            by_id.setdefault(request.request_id, request)
    streams = list(streams)
    sids = {s.stream_sid for s in streams}
    out = Joined()
    for stream in streams:
        if not stream.media_format:
            continue
        sent = by_sid.get(stream.stream_sid)
        if sent is None:
            # no answer carried its sid: its streamload value may still name
            # the request, whose answer then gave another sid (WS-START-005);
            # the receiver's own verdicts stand, from that very value
            exp = Expectation.decode(stream.correlation) if stream.correlation else None
            named = by_id.get(exp.request_id) if exp is not None else None
            if named is not None and named.stream_sid not in sids:
                checker = Checker(stream.stream_sid)
                _identity(checker, named, stream, 0)
                out.checkers.append(checker)
            continue
        facts = frames.get(stream.stream_sid) if frames is not None else None
        checker, judged = judge(sent, stream, facts)
        out.checkers.append(checker)
        out.superseded |= {(stream.stream_sid, rule) for rule in judged}
    return out
