"""Contract defects on demand: one named switch per thing the platform can get wrong.

The conformance checker is only trustworthy if it can be shown to catch each
way a platform may break the contract. ``--defect NAME`` makes the reference
platform break exactly one rule of docs/contract.md, always (not at random: impairments
are the random faults, see :mod:`harness.platform.core.faults`). Pure data plus
validation; the streamer, the REST handlers and the status callbacks each look
up the names that concern them.

The names are a public interface: the conformance suite maps each one to the
rule it must trip, so they never change once published.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Final, Literal

from harness.core.errors import ConfigError


__all__ = ["DEFECTS", "Defect", "parse_defects"]

Area = Literal["ws", "rest", "callback"]


@dataclasses.dataclass(frozen=True, slots=True)
class Defect:
    """One deliberate contract breach."""

    name: str
    area: Area
    description: str
    section: str
    """The docs/contract.md section whose rule it breaks."""


def _table(*defects: Defect) -> dict[str, Defect]:
    return {d.name: d for d in defects}


DEFECTS: Final[dict[str, Defect]] = _table(
    # --- WebSocket messages (contract §5) ---
    Defect("chunk-global", "ws", "media.chunk counts across both tracks instead of per track (only visible with both_tracks)", "§5.2"),
    Defect("numeric-fields", "ws", "media sequenceNumber, chunk and timestamp are JSON numbers, not strings", "§5.2"),
    Defect("payload-size", "ws", "every media payload is one byte short of a 20 ms frame", "§5.2, §5.5"),
    Defect("media-format", "ws", "start.mediaFormat.sampleRate is twice the codec's rate", "§5.2"),
    Defect("custom-parameters", "ws", "one custom parameter value is altered, or an extra one is added when none but streamload's were sent", "§5.2, §3"),
    Defect("drop-correlation", "ws", "start.customParameters lacks the last parameter sent (streamload's, the correlation one)", "§5.2, §3"),
    Defect("alter-correlation", "ws", "the streamload parameter's value names another request id (the rest is intact)", "§5.2, §3"),
    Defect("extra-parameter", "ws", "start.customParameters gains one parameter the request did not send (before streamload's)", "§5.2, §3"),
    Defect("rename-parameter", "ws", "the first custom parameter arrives under another name, its value intact", "§5.2, §3"),
    Defect("reorder-parameters", "ws", "the first two custom parameters arrive swapped (only with two or more besides streamload's)", "§5.2, §3"),
    Defect("timestamp-fast", "ws", "media.timestamp runs 1.5x real time: (chunk-1)*30 instead of (chunk-1)*20", "§5.2, §5.5"),
    Defect("missing-stop", "ws", "the socket is closed without a stop message", "§5.2"),
    Defect("seq-skip", "ws", "sequenceNumber skips one number every 100 messages", "§5.2"),
    Defect("timestamp-drift", "ws", "media.timestamp is (chunk-1)*20 + 100 + chunk instead of (chunk-1)*20", "§5.2, §5.5"),
    Defect("wrong-tracks", "ws", 'start.tracks is ["inbound"] whatever Track was requested', "§5.2"),
    Defect("stream-sid-mismatch", "ws", "start, media and stop carry a top-level streamSid that differs from start.streamSid", "§5.4, §10"),
    Defect("bearer-missing", "ws", "the WebSocket upgrade has no Authorization header even when a bearer token was given", "§5.1"),
    Defect("version", "ws", 'connected.version is "9.9.9"', "§5.2"),
    Defect("message-after-stop", "ws", "one media message follows stop", "§5.2"),
    # --- REST (contract §1-2) ---
    Defect("accept-ws-url", "rest", "a ws:// Url is accepted (and dialled) instead of refused with 31922", "§1.1, §1.3"),
    Defect("date-format", "rest", "date_updated is ISO 8601 instead of RFC 2822", "§1.2"),
    Defect("extra-field", "rest", "stream responses carry an 8th field, api_version", "§1.2"),
    Defect("status-stopped", "rest", 'create answers status "stopped" for a stream that is streaming', "§1.2"),
    Defect("name-not-null", "rest", 'name is "" instead of null when no Name was given (conference streams)', "§1.2"),
    Defect("uri-no-json", "rest", "uri lacks the .json suffix", "§1.2"),
    Defect("content-type-text", "rest", "stream answers say Content-Type text/plain (the body is the right JSON)", "§1.2"),
    Defect("sid-not-uuid", "rest", "responses give the stream sid as 32 hex digits without dashes (stop still accepts it)", "§1.2"),
    # --- status callbacks (contract §4) ---
    Defect("callback-unsigned", "callback", "status callbacks carry no signature header even with a signing key", "§4"),
    Defect("callback-order", "callback", "stream-stopped (or stream-error) is sent before stream-started", "§4"),
)  # fmt: skip
"""Every defect ``--defect`` accepts, by name."""


def parse_defects(names: Iterable[str]) -> frozenset[str]:
    """Check ``--defect`` values; return them as a set.

    Raises:
        ConfigError: a name is not in :data:`DEFECTS`.
    """
    chosen = set()
    for name in names:
        if name not in DEFECTS:
            raise ConfigError(
                "--defect",
                f"unknown defect {name!r}",
                f"use one of {', '.join(sorted(DEFECTS))}",
            )
        chosen.add(name)
    return frozenset(chosen)
