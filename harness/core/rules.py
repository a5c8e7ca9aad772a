"""The conformance rule catalog and the checker that counts rule outcomes.

Each rule has a stable id, a one-line statement, the section of docs/contract.md it comes
from, and a severity. ``info`` rules never fail: they record which of several
readings the docs allow (contract §10) was seen, because a false alarm costs
users more than a missed nit.
"""

from __future__ import annotations

import dataclasses
from typing import Final, Literal


__all__ = [
    "NEEDS",
    "RULES",
    "Checker",
    "Need",
    "Rule",
    "RuleCount",
    "Severity",
    "Violation",
]

Severity = Literal["error", "warning", "info"]
Need = Literal[
    "media",
    "api",
    "negative",
    "callbacks",
    "signing_key",
    "bearer_token",
    "stream_sid",
    "twilio",
    "bidirectional",
    "stop_by_name",
    "call_stream",
    "receiver_tls",
]
"""What a run must do for a rule to be checked at all (see :data:`NEEDS`)."""

NEEDS: Final[dict[Need, str]] = {
    "media": "a stream delivered to the receiver",
    "api": "a valid start (and stop) request answered by the target",
    "negative": "the negative suite (invalid requests, python -m harness.conform)",
    "callbacks": "status callbacks delivered to the callback sink",
    "signing_key": "the key that signs status callbacks",
    "bearer_token": "streams sent with AuthorizationBearerToken",
    "stream_sid": "messages that carry a top-level streamSid",
    "twilio": "a target speaking the twilio dialect",
    "bidirectional": "a bidirectional stream (StreamRealTime=true)",
    "stop_by_name": "a stream stopped by its Name",
    "call_stream": "a stream on a call (not a conference)",
    "receiver_tls": "receivers that hold TLS themselves (not behind a TLS terminator)",
}
"""Each need in words; the report turns an unmet one into the reason a rule was
not checked (``reports.coverage``), so nothing is skipped in silence."""


@dataclasses.dataclass(frozen=True, slots=True)
class Rule:
    id: str
    statement: str
    section: str
    severity: Severity = "error"
    needs: tuple[Need, ...] = ()
    """What a run must do to check this rule at all; empty: any run does."""


def _catalog(*rules: Rule) -> dict[str, Rule]:
    return {r.id: r for r in rules}


_EXTRA_NEEDS: Final[dict[str, tuple[Need, ...]]] = {
    "WS-HANDSHAKE-001": ("bearer_token",),
    "WS-HANDSHAKE-002": ("receiver_tls",),
    "WS-SID-001": ("stream_sid",),
    "WS-DIALECT-002": ("twilio",),
    "CB-004": ("signing_key",),
}
"""Needs beyond the family's (see :func:`_with_needs`)."""


def _with_needs(catalog: dict[str, Rule]) -> dict[str, Rule]:
    """Fill each rule's ``needs``: its family's, then its own extras.

    Kept apart from the catalog entries so a new rule gets its family's needs
    without a word: ``WS-`` rules need a stream delivered, ``REST-CREATE``
    and ``REST-STOP`` an answered start, the other ``REST-`` rules the negative
    suite, ``CB-`` rules status callbacks.
    """
    out: dict[str, Rule] = {}
    for rule_id, rule in catalog.items():
        if rule.needs:
            out[rule_id] = rule
            continue
        if rule_id.startswith("WS-"):
            family: tuple[Need, ...] = ("media",)
        elif rule_id.startswith(("REST-CREATE-", "REST-STOP-")):
            family = ("api",)
        elif rule_id.startswith("REST-"):
            family = ("negative",)
        elif rule_id.startswith("CB-"):
            family = ("callbacks",)
        else:
            family = ()
        needs = (*family, *_EXTRA_NEEDS.get(rule_id, ()))
        out[rule_id] = dataclasses.replace(rule, needs=needs)
    return out


RULES: Final[dict[str, Rule]] = _catalog(
    # --- WebSocket handshake and messages (contract §5) ---
    Rule(
        "WS-HANDSHAKE-001",
        "the WebSocket upgrade carries Authorization: Bearer "
        "equal to the AuthorizationBearerToken sent",
        "§5.1",
    ),
    Rule(
        "WS-JSON-001", "every message is a JSON text frame with a known event", "§5.2"
    ),
    Rule(
        "WS-JSON-002",
        "every field has the documented JSON type "
        "(sequenceNumber, chunk, timestamp are strings)",
        "§5.2",
    ),
    Rule(
        "WS-ORDER-001",
        "messages come in order: connected, start, "
        "media/dtmf/mark, stop, nothing after",
        "§5.2",
    ),
    Rule(
        "WS-CONNECTED-001",
        'connected has protocol "Call" and the dialect\'s '
        "version (SignalWire 0.2.0, Twilio 1.0.0)",
        "§5.2, §5.4",
        "warning",
    ),
    Rule(
        "WS-SEQ-001",
        'sequenceNumber starts at "1" on start and grows by 1 with each message',
        "§5.2",
    ),
    Rule(
        "WS-START-001",
        "start.mediaFormat matches the requested StreamCodec "
        "(encoding, sampleRate, channels 1)",
        "§5.2, §3",
    ),
    Rule("WS-START-002", "start.tracks matches the requested Track", "§5.2"),
    Rule(
        "WS-START-003",
        "start.customParameters equals the parameters sent, streamload's included: "
        "same names, same values, same order (judged by the report too, joining "
        "the stream to its request by sid, should the platform drop or alter "
        "streamload's)",
        "§5.2, §3",
    ),
    Rule(
        "WS-START-004",
        "top-level streamSid: absent (SignalWire examples) or "
        "present (Twilio); either reading is allowed",
        "§5.4, §10",
        "info",
    ),
    Rule(
        "WS-SID-001",
        "every streamSid in the stream equals start.streamSid",
        "§5.2, §10",
    ),
    Rule(
        "WS-MEDIA-001",
        "media.track is one of the tracks requested "
        "(announced in start when the request is unknown)",
        "§5.2",
    ),
    Rule("WS-MEDIA-002", 'media.chunk starts at "1" and grows by 1 per track', "§5.2"),
    Rule(
        "WS-MEDIA-003",
        "media.payload is valid base64 of exactly one 20 ms frame "
        "of the codec requested (announced when the request is unknown)",
        "§5.2, §5.5",
    ),
    Rule(
        "WS-MEDIA-004",
        "media.timestamp (ms from stream start) never goes back on a track",
        "§5.2",
    ),
    Rule(
        "WS-MEDIA-005",
        "media.timestamp stays within 60 ms of (chunk-1) x 20 ms "
        "(checked on frames whose chunk is in sequence)",
        "§5.2, §5.5",
        "warning",
    ),
    Rule(
        "WS-MEDIA-006",
        "media.timestamp keeps to real time per track: timestamp - (chunk-1) x 20 ms "
        "drifts at most 200 ms from its value on the track's first frame (room "
        "for wall-clock readings and their jitter), and "
        "over every 5 s window (250 chunks of 20 ms audio) it advances within "
        "5 % of the window's duration (checked on frames whose chunk is in "
        "sequence)",
        "§5.2, §5.5, §10",
    ),
    # WS-MEDIA-007, WS-START-005/006: the WebSocket messages of
    # https://signalwire.com/docs/compatibility-api/cxml/reference/voice/stream
    # (media per track; start's streamSid and accountSid, those of the stream
    # the REST API created: https://www.twilio.com/docs/voice/api/stream-resource)
    Rule(
        "WS-MEDIA-007",
        "every track start announced (requested) carries media while the stream "
        "lasts (judged on streams that lasted 300 ms or more from start to stop "
        "or close)",
        "§5.2",
    ),
    Rule(
        "WS-START-005",
        "start.streamSid is the sid the create answer gave (judged by the report, "
        "joining the stream to its request by the streamload parameter)",
        "§1.2, §5.2",
    ),
    Rule(
        "WS-START-006",
        "start.accountSid is the account the stream was created on (the "
        "request's AccountSid; judged by the report's join)",
        "§1.2, §5.2",
    ),
    # WS-LIMIT-001: every bound sits far above what the docs allow (ids are
    # UUIDs or a prefix + 32 hex, at most 99 parameters whose name and value
    # stay under 500 characters on Twilio, tracks inbound and outbound), so
    # only a broken or hostile peer meets one
    Rule(
        "WS-LIMIT-001",
        "the stream stays within what a receiver keeps of it: track names, ids and "
        "parameter names of at most 256 characters, parameter values of at most "
        "4,096, at most 128 custom parameters, the tracks start announced plus 4 "
        "(the excess is counted, not kept)",
        "§2.4, §5.2",
    ),
    Rule(
        "WS-STOP-001",
        "the stream ends with a stop message before the socket closes",
        "§5.2",
    ),
    Rule(
        "WS-STOP-002",
        "nothing arrives after stop",
        "§5.2",
    ),
    Rule(
        "WS-HANDSHAKE-002",
        "the platform dials the receiver over TLS (wss only)",
        "§1.1, §5.1",
    ),
    # --- dialects (contract §5.4, §2.4): told apart by connected.version ---
    Rule(
        "WS-DIALECT-001",
        "start's streamSid, accountSid and callSid have the dialect's format "
        "(SignalWire: UUIDs; Twilio: MZ, AC, CA + 32 hex)",
        "§5.4, §2.4",
    ),
    Rule(
        "WS-DIALECT-002",
        "Twilio dialect: start, media and stop carry a top-level streamSid",
        "§5.4",
    ),
    Rule(
        "WS-DIALECT-003",
        "stop body: Twilio's carries stop.accountSid and stop.callSid equal to "
        "start's; SignalWire's has none (one that is sent must agree too)",
        "§5.4",
    ),
    # --- REST (contract §1-2) ---
    Rule("REST-CREATE-001", "a valid create request gets HTTP 200", "§1.2, §1.3"),
    Rule(
        "REST-CREATE-002",
        "the create response has exactly the 7 documented fields with their types",
        "§1.2",
    ),
    Rule(
        "REST-CREATE-003",
        "sid is a UUID (Twilio dialect: MZ + 32 hex; the reading is reported); "
        "account_sid and conference_sid are the ones requested",
        "§1.2",
    ),
    Rule("REST-CREATE-004", "date_updated is an RFC 2822 date", "§1.2"),
    Rule("REST-CREATE-005", "uri is the stream's path ending in .json", "§1.2"),
    Rule(
        "REST-CREATE-006",
        "name echoes the Name sent, or null when none was sent",
        "§1.2",
    ),
    Rule(
        "REST-CREATE-007",
        "status is queued or in-progress after create "
        "(either reading is allowed; the one seen is reported)",
        "§1.2, §10",
    ),
    # the Compatibility API answers JSON (.json resources):
    # https://www.twilio.com/docs/voice/api/stream-resource
    Rule(
        "REST-CREATE-008",
        "create and stop answers say Content-Type application/json "
        "(parameters such as charset allowed)",
        "§1.2, §2.1",
    ),
    Rule(
        "REST-STOP-001",
        "stopping a live stream gets HTTP 200 with status stopped",
        "§2.1",
    ),
    Rule(
        "REST-STOP-002",
        "the stop response has the 7 documented fields and the stream's sid",
        "§2.1, §1.2",
    ),
    # --- REST rejections (contract §1.3, §10): 400 or 422 are both allowed
    # readings for a validation failure; the one seen is reported ---
    Rule(
        "REST-REJECT-001",
        "a ws:// Url is refused with 400 or 422 (code 31922 when the body has one)",
        "§1.1, §1.3, §10",
    ),
    Rule(
        "REST-REJECT-002",
        "a malformed Url (whitespace, no host) is refused with 400 or 422 "
        "(code 31922 when the body has one)",
        "§1.3, §10",
    ),
    Rule("REST-REJECT-003", "a create without Url is refused with 400 or 422", "§1.1"),
    Rule(
        "REST-REJECT-004",
        "an unknown Track or StreamCodec is refused with 400 or 422",
        "§1.1, §9.2",
    ),
    Rule(
        "REST-REJECT-005",
        "a 100th custom parameter is refused with 400 or 422",
        "§1.1",
    ),
    Rule(
        "REST-REJECT-006",
        "bad credentials get 401 with code 20003",
        "§1, §1.3",
    ),
    Rule(
        "REST-REJECT-007",
        "an unknown account gets 404 with code 20404 "
        "(or 401 with 20003: the user is not that account; reading reported)",
        "§1.3, §9.1",
    ),
    Rule(
        "REST-REJECT-008",
        "an unknown conference gets 404 with code 20404",
        "§1.3",
    ),
    Rule(
        "REST-REJECT-009",
        "a duplicate Name in the same conference is refused with 400 or 422 "
        "(a platform may report it only by a stream-error callback, contract §10)",
        "§1.1, §4, §10",
        "warning",
    ),
    Rule(
        "REST-REJECT-010",
        "stopping an unknown stream gets 404 (code 20404 when the body has one)",
        "§2.1, §1.3",
    ),
    Rule(
        "REST-REJECT-011",
        "a stop with Status other than stopped is refused with 400 or 422",
        "§2.1",
    ),
    Rule(
        "REST-ERROR-001",
        "an error body has its status's documented shape: "
        "{code, message, more_info, status} for 400/401/404 "
        '(status equal to the HTTP one); {"errors": [...]} or that shape for 422',
        "§1.3",
    ),
    # --- status callbacks (contract §4) ---
    Rule(
        "CB-001",
        "a stream's callbacks come in order: stream-started once, "
        "before stream-stopped once",
        "§4",
    ),
    Rule(
        "CB-002",
        "a callback carries the documented parameters: AccountSid, StreamSid, "
        "StreamName, StreamEvent (started, stopped or error), an ISO 8601 "
        "Timestamp, StreamError exactly on stream-error, a valid StreamTrack",
        "§4",
    ),
    Rule(
        "CB-003",
        "a callback uses the requested StatusCallbackMethod "
        "(POST form-encoded, GET in the query)",
        "§1.1, §4",
    ),
    Rule(
        "CB-004",
        "with a signing key configured, every callback carries a valid "
        "Twilio-algorithm signature (HMAC-SHA1, base64, over the URL and "
        "sorted POST parameters)",
        "§4",
    ),
    Rule(
        "CB-005",
        "signature header: X-SignalWire-Signature (SignalWire) or "
        "X-Twilio-Signature (Twilio); either is accepted, the one seen is reported",
        "§4, §5.4",
        "info",
    ),
)
RULES.update(_with_needs(RULES))


@dataclasses.dataclass(frozen=True, slots=True)
class Violation:
    """One failed check, with the evidence a user needs to reproduce it."""

    rule: str
    subject: str
    """Stream sid, request id or callback id the check was about."""
    seq: int | None
    expected: str
    actual: str
    at_ns: int

    @property
    def severity(self) -> Severity:
        return RULES[self.rule].severity


@dataclasses.dataclass(slots=True)
class RuleCount:
    checks: int = 0
    failures: int = 0


class Checker:
    """Count checks per rule and keep the first few violations of each as evidence.

    Memory stays bounded whatever the peer sends: counts are integers and at
    most ``max_evidence`` violations are kept per rule.
    """

    EVIDENCE_CHARS: Final = 512
    """Evidence text kept per violation: a peer's 200 KB value is cut to this."""

    def __init__(self, subject: str, max_evidence: int = 5) -> None:
        self.subject = subject
        self.max_evidence = max_evidence
        self.counts: dict[str, RuleCount] = {}
        self.violations: list[Violation] = []
        self.readings: dict[str, str] = {}
        """For ``info`` rules: the reading seen (contract §10 ambiguities)."""
        self._kept: dict[str, int] = {}

    def check(
        self,
        rule: str,
        ok: bool,
        *,
        expected: object = "",
        actual: object = "",
        seq: int | None = None,
        at_ns: int = 0,
    ) -> bool:
        """Record one outcome of ``rule``; return ``ok`` so callers can branch on it."""
        count = self.counts.get(rule)
        if count is None:
            count = self.counts[rule] = RuleCount()
        count.checks += 1
        if not ok:
            count.failures += 1
            kept = self._kept.get(rule, 0)
            if kept < self.max_evidence:
                self._kept[rule] = kept + 1
                cut = self.EVIDENCE_CHARS
                self.violations.append(
                    Violation(
                        rule,
                        self.subject[:cut],
                        seq,
                        str(expected)[:cut],
                        str(actual)[:cut],
                        at_ns,
                    )
                )
        return ok

    def passes(self, rule: str, n: int) -> None:
        """Record ``n`` passed checks of ``rule`` at once.

        Hot paths count passes in an integer and hand them over here, instead
        of paying a call per rule per message (issue 4: checking at most
        doubles the cost of parsing).
        """
        if n <= 0:
            return
        count = self.counts.get(rule)
        if count is None:
            count = self.counts[rule] = RuleCount()
        count.checks += n

    def note(self, rule: str, reading: str) -> None:
        """Record which allowed reading was seen (contract §10); it counts as a passed check."""
        self.readings[rule] = reading
        self.check(rule, True)

    @property
    def failures(self) -> int:
        return sum(c.failures for c in self.counts.values())
