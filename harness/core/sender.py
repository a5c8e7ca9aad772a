"""One sent media stream without I/O: what the platform writes, in which order (contract §5.2, §5.4).

The sending side's mirror of :mod:`harness.core.session`. The platform's streamer
(:mod:`harness.platform.streamer`) owns the socket, the clock and the pacing; it
asks a :class:`Sender` for each message and writes what it gets. The sender
holds the per-stream state the messages carry: ``sequenceNumber`` (one counter
over every message after ``connected``), ``media.chunk`` (per track, docs/contract.md
§5.2) and ``media.timestamp`` (``(chunk - 1) * 20`` ms, contract §5.5). Time is
an argument (``due_ns``, ``sent_ns``), never read here, so a test can drive any
schedule and get the exact bytes and send-log rows a run would produce.

The ``--defect`` switches that bend these messages (harness/platform/core/defects.py)
are data, :class:`WireDefects`, decided once when the stream is created: the
sender picks its media formatter then, so a conformant stream's frames take a
path with no defect test at all (it runs 50 times a second per track of every
stream).
"""

from __future__ import annotations

import base64
import dataclasses
import functools
from collections.abc import Callable, Iterable, Mapping
from typing import Final, Protocol

from msgspec import UNSET, UnsetType

from harness.core.api import TRACK_MEDIA, StartStreamRequest
from harness.core.audio import FRAMES_PER_CYCLE, encoded_frames
from harness.core.codecs import FRAME_MS, ByteOrder, get_codec
from harness.core.correlation import PARAM_NAME
from harness.core.messages import (
    Connected,
    Dtmf,
    DtmfBody,
    Mark,
    MarkBody,
    MediaFormat,
    Start,
    StartBody,
    Stop,
    StopBody,
    encode,
    media_json,
    media_template,
)


__all__ = [
    "NAMES",
    "Dialect",
    "Frame",
    "Sender",
    "SentRow",
    "WireDefects",
    "payloads",
    "wire_payloads",
    "with_wire",
]

SentRow = tuple[str, str, int, int, int, int, int, int]
"""One ``sent_frames`` row (harness/core/records.py): stream sid, track, chunk,
sequenceNumber, due_ns, sent_ns, payload bytes, wire_ns."""

Frame = tuple[str, SentRow]
"""One media message and its send-log row (``wire_ns == sent_ns`` until a
network emulation says otherwise, :func:`with_wire`)."""


class Dialect(Protocol):
    """What the sender needs of a vendor's conventions (harness/platform/core/dialect.py)."""

    @property
    def version(self) -> str:
        """``connected.version``."""
        ...

    @property
    def top_level_stream_sid(self) -> bool:
        """Twilio repeats ``streamSid`` at the top of start/media/stop (contract §5.4)."""
        ...

    @property
    def stop_body(self) -> bool:
        """Twilio: a ``stop`` body, numbered marks, dtmf with a track (contract §5.4)."""
        ...


@dataclasses.dataclass(frozen=True, slots=True)
class WireDefects:
    """The WebSocket ``--defect`` switches of one stream, as data (all off: conformant).

    One field per ``ws`` defect of harness/platform/core/defects.py, named after it
    (``chunk-global`` -> :attr:`chunk_global`); each changes exactly what its
    docstring says and nothing else (tests/harness/core/test_sender.py).
    """

    chunk_global: bool = False
    """``media.chunk`` counts across both tracks instead of per track."""
    numeric_fields: bool = False
    """``media`` ``sequenceNumber``, ``chunk`` and ``timestamp`` are JSON numbers."""
    payload_size: bool = False
    """Every ``media`` payload is one byte short of a 20 ms frame."""
    media_format: bool = False
    """``start.mediaFormat.sampleRate`` is twice the codec's rate."""
    custom_parameters: bool = False
    """One custom parameter value is altered (or one added when only streamload's was sent)."""
    drop_correlation: bool = False
    """``start.customParameters`` lacks its last parameter (streamload's)."""
    alter_correlation: bool = False
    """streamload's parameter names another request id."""
    extra_parameter: bool = False
    """One parameter the request did not send, before streamload's."""
    rename_parameter: bool = False
    """The first custom parameter other than streamload's arrives renamed."""
    reorder_parameters: bool = False
    """The first two custom parameters other than streamload's arrive swapped."""
    timestamp_fast: bool = False
    """``media.timestamp`` runs 1.5x real time."""
    missing_stop: bool = False
    """No ``stop`` message (:meth:`Sender.closing`)."""
    seq_skip: bool = False
    """``sequenceNumber`` skips one number every 100 messages (in ``media``)."""
    timestamp_drift: bool = False
    """``media.timestamp`` is ``(chunk - 1) * 20 + 100 + chunk``."""
    wrong_tracks: bool = False
    """``start.tracks`` is ``["inbound"]`` whatever was requested."""
    stream_sid_mismatch: bool = False
    """start, media and stop carry a top-level ``streamSid`` unlike ``start.streamSid``."""
    bearer_missing: bool = False
    """No ``Authorization`` header on the upgrade (the streamer's dial, not a message)."""
    version: bool = False
    """``connected.version`` is ``"9.9.9"``."""
    message_after_stop: bool = False
    """One ``media`` message follows ``stop`` (:meth:`Sender.closing`)."""

    @classmethod
    def from_names(cls, names: Iterable[str]) -> WireDefects:
        """The switches for the ``--defect`` names given; names of other areas are ignored."""
        chosen = {n.replace("-", "_") for n in names}
        return cls(**{f: True for f in _FIELDS if f in chosen})

    @property
    def names(self) -> frozenset[str]:
        """The ``--defect`` names that are on."""
        return frozenset(f.replace("_", "-") for f in _FIELDS if getattr(self, f))

    @property
    def media_templated(self) -> bool:
        """No switch changes a ``media`` message's shape or numbers, so the
        per-track templates apply (``payload-size`` and ``stream-sid-mismatch``
        only change what the templates are filled with)."""
        return not (
            self.chunk_global
            or self.numeric_fields
            or self.timestamp_fast
            or self.seq_skip
            or self.timestamp_drift
        )


_FIELDS: Final = tuple(f.name for f in dataclasses.fields(WireDefects))
NAMES: Final = frozenset(f.replace("_", "-") for f in _FIELDS)
"""Every defect name :class:`WireDefects` knows (the ``ws`` area of harness/platform/core/defects.py)."""


@functools.cache
def payloads(
    codec_name: str, byte_order: ByteOrder, track: str, short: bool = False
) -> tuple[str, ...]:
    """Base64 of the 50 test-signal frames of one codec and track, encoded once per process.

    ``short`` drops each frame's last byte (the ``payload-size`` defect).
    """
    codec = get_codec(codec_name, byte_order)
    return tuple(
        base64.b64encode(f[:-1] if short else f).decode("ascii")
        for f in encoded_frames(codec, track)
    )


@functools.cache
def wire_payloads(
    codec_name: str, byte_order: ByteOrder, track: str, short: bool = False
) -> tuple[bytes, ...]:
    """:func:`payloads` as ASCII bytes, for the bytes templates of :meth:`Sender.media_wire`."""
    return tuple(
        p.encode("ascii") for p in payloads(codec_name, byte_order, track, short)
    )


def with_wire(row: SentRow, wire_ns: int) -> SentRow:
    """``row`` with its ``wire_ns`` set: when an emulated network wrote it (0: lost)."""
    return (*row[:7], wire_ns)


_Track = tuple[str, str, tuple[str, ...]]
"""A track's name, its media template (:func:`harness.core.messages.media_template`) and payloads."""
_WireTrack = tuple[bytes, tuple[bytes, ...]]
"""A track's media template and payloads as UTF-8 bytes (:meth:`Sender.media_wire`)."""


class Sender:
    """Build one stream's messages in order and keep the counters they carry.

    Call :meth:`connected`, :meth:`start`, then :meth:`media` once per 20 ms
    (each call is one chunk: a message per track), then :meth:`closing`.
    :meth:`mark` and :meth:`dtmf` answer a bidirectional receiver (contract §5.3).
    """

    __slots__ = (
        "_account_sid",
        "_call_sid",
        "_codec_encoding",
        "_dialect",
        "_parameters",
        "_sample_rate",
        "_tracks",
        "chunk",
        "defects",
        "frame_bytes",
        "global_chunk",
        "media",
        "packable",
        "seq",
        "sid",
        "top_sid",
        "track_names",
        "wire",
    )

    media: Callable[[int, int], list[Frame]]
    """``media(due_ns, sent_ns)``: the next chunk, one :data:`Frame` per track.

    ``due_ns`` is the chunk's slot on the stream's schedule and ``sent_ns``
    when it left the media pipeline; both only go into the send-log rows.
    """

    def __init__(
        self,
        stream_sid: str,
        call_sid: str,
        account_sid: str,
        request: StartStreamRequest,
        dialect: Dialect,
        *,
        byte_order: ByteOrder = "big",
        defects: WireDefects = WireDefects(),
        other_sid: str = "",
    ) -> None:
        """``other_sid`` is the top-level ``streamSid`` of the ``stream-sid-mismatch`` defect."""
        codec = get_codec(request.effective_codec, byte_order)
        self.sid = stream_sid
        self._call_sid = call_sid
        self._account_sid = account_sid
        self._dialect = dialect
        self.defects = defects
        self._codec_encoding = codec.encoding
        self._sample_rate = codec.sample_rate
        self.frame_bytes = codec.frame_bytes
        self._parameters = dict(request.parameters)
        self.track_names = TRACK_MEDIA[request.effective_track]
        if defects.stream_sid_mismatch:
            if not other_sid:
                raise ValueError("stream-sid-mismatch needs other_sid")
            self.top_sid: str | None = other_sid
        else:
            self.top_sid = stream_sid if dialect.top_level_stream_sid else None
        self._tracks: tuple[_Track, ...] = tuple(
            (
                t,
                media_template(t, self.top_sid),
                payloads(codec.name, byte_order, t, defects.payload_size),
            )
            for t in self.track_names
        )
        self.wire: tuple[_WireTrack, ...] = tuple(
            (
                template.encode(),
                wire_payloads(codec.name, byte_order, t, defects.payload_size),
            )
            for t, template, _ in self._tracks
        )
        """Per track, its media template and payloads as UTF-8 bytes: what
        :meth:`media_wire` fills in (``sequenceNumber``, chunk, timestamp,
        payload), and the platform's pacing lane the same way
        (harness/platform/lane.py)."""
        self.seq = 0
        """The last ``sequenceNumber`` built (0 before ``start``)."""
        self.chunk = 0
        """The last chunk built (per track: every track has sent this many)."""
        self.global_chunk = 0
        """The ``chunk-global`` defect's counter across tracks."""
        self.media = self._media if defects.media_templated else self._media_defective
        self.packable = defects.media_templated
        """Whether :meth:`media_wire` may be used: every frame of a chunk shares
        chunk, times and size, and their sequence numbers follow one another."""

    # -- the media (the hot path) -----------------------------------------

    def _media(self, due_ns: int, sent_ns: int) -> list[Frame]:
        """:data:`media` for a conformant stream: templates filled in, no defect tests."""
        chunk = self.chunk = self.chunk + 1
        seq = self.seq
        sid = self.sid
        frame_bytes = self.frame_bytes
        timestamp = (chunk - 1) * FRAME_MS
        index = (chunk - 1) % FRAMES_PER_CYCLE
        out = []
        for (
            track,
            template,
            frames,
        ) in self._tracks:  # contract §5.2: chunk counts per track
            seq += 1
            out.append(
                (
                    template % (seq, chunk, timestamp, frames[index]),
                    (sid, track, chunk, seq, due_ns, sent_ns, frame_bytes, sent_ns),
                )
            )
        self.seq = seq
        return out

    def media_wire(self) -> list[bytes]:
        """The next chunk's messages alone, as UTF-8 bytes, for a producer that
        logs the chunk itself.

        Only for :attr:`packable` streams. Frame ``i`` (track
        ``track_names[i]``) is :meth:`media`'s message ``i`` encoded (the same
        text frame on the wire: picows would encode a ``str`` itself, a copy per
        frame) and carries ``sequenceNumber`` ``seq_before + 1 + i`` and chunk
        :attr:`chunk`; its send-log row is what :meth:`media` would have built
        for it: the platform's send log (harness/platform/sendlog.py) stores one
        record per chunk instead of one tuple per frame. Bytes formatting is
        also ~40 % cheaper than ``str`` formatting (docs/performance.md "The
        platform's frame in bytes and its bucket pass").
        """
        chunk = self.chunk = self.chunk + 1
        seq = self.seq
        timestamp = (chunk - 1) * FRAME_MS
        index = (chunk - 1) % FRAMES_PER_CYCLE
        out = []
        for template, frames in self.wire:
            seq += 1
            out.append(template % (seq, chunk, timestamp, frames[index]))
        self.seq = seq
        return out

    def _media_defective(self, due_ns: int, sent_ns: int) -> list[Frame]:
        """:data:`media` with the switches of :attr:`defects` applied."""
        d = self.defects
        chunk = self.chunk = self.chunk + 1
        timestamp = (chunk - 1) * FRAME_MS
        if d.timestamp_drift:
            timestamp += 100 + chunk
        if d.timestamp_fast:
            timestamp = timestamp * 3 // 2
        fmt = _media_numeric if d.numeric_fields else media_json
        index = (chunk - 1) % FRAMES_PER_CYCLE
        seq = self.seq
        out = []
        for track, _, frames in self._tracks:
            seq += 1
            if d.seq_skip and seq % 100 == 0:
                seq += 1
            if d.chunk_global:
                self.global_chunk += 1
                chunk = self.global_chunk
            out.append(
                (
                    fmt(seq, track, chunk, timestamp, frames[index], self.top_sid),
                    (
                        self.sid,
                        track,
                        chunk,
                        seq,
                        due_ns,
                        sent_ns,
                        self.frame_bytes,
                        sent_ns,
                    ),
                )
            )
        self.seq = seq
        return out

    # -- the other messages (contract §5.2; Twilio variants §5.4) -------------

    def connected(self) -> str:
        """The first message (a ``str``: bytes would go out as a binary frame)."""
        version = "9.9.9" if self.defects.version else self._dialect.version
        return encode(Connected(protocol="Call", version=version)).decode()

    def start(self) -> str:
        """``start``, always ``sequenceNumber`` 1."""
        d = self.defects
        parameters = self._parameters
        if d.custom_parameters:
            parameters = _alter_parameters(parameters)
        parameters = _mangle_parameters(parameters, d)
        sample_rate = self._sample_rate * 2 if d.media_format else self._sample_rate
        tracks = ["inbound"] if d.wrong_tracks else list(self.track_names)
        self.seq = 1
        message = Start(
            sequence_number="1",
            start=StartBody(
                stream_sid=self.sid,
                account_sid=self._account_sid,
                call_sid=self._call_sid,
                tracks=tracks,
                # contract §5.2: "Only present when custom parameters are defined."
                custom_parameters=parameters if parameters else UNSET,
                media_format=MediaFormat(
                    encoding=self._codec_encoding,
                    sample_rate=sample_rate,
                    channels=1,
                ),
            ),
            stream_sid=self._top_sid_or_unset(),
        )
        return encode(message).decode()

    def closing(self) -> list[str]:
        """What ends the stream: ``stop``, unless a defect drops it or adds a frame after it."""
        out = []
        if not self.defects.missing_stop:
            out.append(self._stop())
        if self.defects.message_after_stop:
            out.append(self._after_stop())
        return out

    def _stop(self) -> str:
        self.seq += 1
        body = StopBody(account_sid=self._account_sid, call_sid=self._call_sid)
        message = Stop(
            sequence_number=str(self.seq),
            stop=body if self._dialect.stop_body else UNSET,
            stream_sid=self._top_sid_or_unset(),
        )
        return encode(message).decode()

    def _after_stop(self) -> str:
        """The ``message-after-stop`` defect: one more media frame, as the next chunk would be."""
        self.seq += 1
        chunk = self.chunk + 1
        track, _, frames = self._tracks[0]
        return media_json(
            self.seq,
            track,
            chunk,
            (chunk - 1) * FRAME_MS,
            frames[(chunk - 1) % FRAMES_PER_CYCLE],
            self.top_sid,
        )

    def mark(self, name: str) -> bytes:
        """Echo one mark (SignalWire: no ``sequenceNumber``; Twilio: one, contract §5.4)."""
        seq: str | UnsetType = UNSET
        if self._dialect.stop_body:
            self.seq += 1
            seq = str(self.seq)
        mark = Mark(
            mark=MarkBody(name=name),
            sequence_number=seq,
            stream_sid=self._sid_for_replies(),
        )
        return encode(mark)

    def dtmf(self, body: DtmfBody) -> bytes:
        """A digit the receiver injected, reported back as detected on the inbound audio."""
        self.seq += 1
        if self._dialect.stop_body:  # Twilio: track, no duration (contract §5.4)
            echoed = DtmfBody(digit=body.digit, track="inbound_track")
        else:  # SignalWire: duration in ms as a number (contract §5.2)
            duration = body.duration if isinstance(body.duration, int) else 250
            echoed = DtmfBody(digit=body.digit, duration=duration)
        message = Dtmf(
            dtmf=echoed,
            sequence_number=str(self.seq),
            stream_sid=self._sid_for_replies(),
        )
        return encode(message)

    def _top_sid_or_unset(self) -> str | UnsetType:
        return self.top_sid if self.top_sid is not None else UNSET

    def _sid_for_replies(self) -> str:
        # contract §5.2: dtmf and mark carry streamSid on bidirectional streams.
        return self.top_sid if self.top_sid is not None else self.sid


_MEDIA_NUMERIC = (
    '{"event":"media","sequenceNumber":%d,"media":{"track":"%s","chunk":%d,'
    '"timestamp":%d,"payload":"%s"}}'
)
_MEDIA_NUMERIC_WITH_SID = (
    '{"event":"media","sequenceNumber":%d,"media":{"track":"%s","chunk":%d,'
    '"timestamp":%d,"payload":"%s"},"streamSid":"%s"}'
)


def _media_numeric(
    seq: int,
    track: str,
    chunk: int,
    timestamp_ms: int,
    payload_b64: str,
    stream_sid: str | None = None,
) -> str:
    """A media message with numbers where strings belong (the ``numeric-fields`` defect)."""
    if stream_sid is None:
        return _MEDIA_NUMERIC % (seq, track, chunk, timestamp_ms, payload_b64)
    return _MEDIA_NUMERIC_WITH_SID % (
        seq,
        track,
        chunk,
        timestamp_ms,
        payload_b64,
        stream_sid,
    )


def _alter_parameters(parameters: Mapping[str, str]) -> dict[str, str]:
    """The ``custom-parameters`` defect: change one value, or add one when there are none.

    The ``streamload`` correlation parameter is left alone so the stream can still
    be tied to its request; its digest is what shows the change.
    """
    altered = dict(parameters)
    for name in altered:
        if name != PARAM_NAME:
            altered[name] += "-altered"
            return altered
    altered["streamload-extra"] = "added"
    return altered


def _mangle_parameters(
    parameters: dict[str, str], defects: WireDefects
) -> dict[str, str]:
    """The parameter defects other than ``custom-parameters``: each changes one
    parameter of ``start.customParameters`` (contract §3 ``<Parameter>``)."""
    d = defects
    if not (
        d.drop_correlation
        or d.alter_correlation
        or d.extra_parameter
        or d.rename_parameter
        or d.reorder_parameters
    ):
        return parameters
    items = list(parameters.items())
    if d.drop_correlation and items:
        items.pop()  # the last one sent: streamload's
    # after the drop: with no correlation parameter sent, the one dropped was
    # a user's, and indexing by the list before the drop ran past its end
    others = [i for i, (name, _) in enumerate(items) if name != PARAM_NAME]
    if d.alter_correlation:
        items = [
            (n, v.replace(";req=", ";req=forged-", 1) if n == PARAM_NAME else v)
            for n, v in items
        ]
    if d.rename_parameter and others:
        name, value = items[others[0]]
        items[others[0]] = (f"{name}-renamed", value)
    if d.reorder_parameters and len(others) >= 2:
        a, b = others[0], others[1]
        items[a], items[b] = items[b], items[a]
    if d.extra_parameter:
        at = len(items) - 1 if items and items[-1][0] == PARAM_NAME else len(items)
        items.insert(at, ("streamload-extra", "added"))
    return dict(items)
