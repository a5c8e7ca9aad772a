"""Id formats per dialect (contract §2.4: uuids vs MZ/AC/CA + 32 hex)."""

from __future__ import annotations

import re
import uuid

from harness.platform.core.dialect import DIALECTS


def test_signalwire_ids_are_uuids() -> None:
    sid = DIALECTS["signalwire"].new_sid("stream")
    assert str(uuid.UUID(sid)) == sid
    assert DIALECTS["signalwire"].new_sid("stream") != sid


def test_twilio_ids_have_prefixes() -> None:
    twilio = DIALECTS["twilio"]
    for kind, prefix in (
        ("account", "AC"),
        ("conference", "CF"),
        ("stream", "MZ"),
        ("call", "CA"),
    ):
        assert re.fullmatch(prefix + "[0-9a-f]{32}", twilio.new_sid(kind))  # type: ignore[arg-type]


def test_versions() -> None:
    assert DIALECTS["signalwire"].version == "0.2.0"
    assert DIALECTS["twilio"].version == "1.0.0"
