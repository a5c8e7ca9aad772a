"""harness.core.lines: the ready/stats line format, written and read by one definition."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import given, strategies as st

from harness.core.lines import EVENT, READY, STATS, decode, encode, ready_fields


scalars = (
    st.none() | st.booleans() | st.integers() | st.text() | st.floats(allow_nan=False)
)
fields = st.dictionaries(st.text().filter(lambda k: k != EVENT), scalars, max_size=6)


@given(st.sampled_from([READY, STATS, "started"]), fields)
def test_a_line_decodes_to_its_event_and_fields(
    event: str, values: dict[str, object]
) -> None:
    line = encode(event, values)
    assert "\n" not in line and line.startswith(f'{{"{EVENT}":')
    assert decode(line) == {EVENT: event, **values}
    assert decode(line.encode()) == {EVENT: event, **values}


documents = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()  # NaN and infinities too
    | st.text(),  # any code point, control characters and non-ASCII included
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4)
    ),
    max_leaves=20,
)


def _canonical(doc: Any) -> str:
    """``doc`` as the standard library writes it (NaN-safe equality)."""
    return json.dumps(doc)


@given(st.sampled_from([READY, STATS]), st.dictionaries(st.text(), documents))
def test_the_line_is_the_document_the_standard_library_writes(
    event: str, values: dict[str, Any]
) -> None:
    """msgspec writes the line, or the standard library where they differ:
    either way the same document as ``json.dumps`` (the independent reading),
    ASCII only, read back whole by ``decode``."""
    values.pop(EVENT, None)
    line = encode(event, values)
    assert line.isascii() and "\n" not in line
    reference = json.dumps({EVENT: event, **values}, separators=(",", ":"))
    assert _canonical(json.loads(line)) == _canonical(json.loads(reference))
    assert _canonical(decode(line)) == _canonical(json.loads(reference))
    assert _canonical(decode(reference.encode())) == _canonical(json.loads(reference))


def test_a_live_line_of_ints_takes_msgspec_and_equals_the_standard_library() -> None:
    live = {
        "seq": 3,
        "tracks": {
            c: {t: {"j": [list(range(-50, 300, 7)), [1] * 50]} for t in ("in", "out")}
            for c in ("PCMU", "L16@16000h")
        },
    }
    line = encode(STATS, {"live": live})
    assert line == json.dumps({EVENT: STATS, "live": live}, separators=(",", ":"))


def test_anything_but_a_json_object_is_skipped() -> None:
    for raw in (b"", b"not json", b"[1, 2]", b"3", b"\xff\xfe", "null"):
        assert decode(raw) is None


def test_ready_fields_name_the_url_to_dial() -> None:
    local = "wss://127.0.0.1:4000/stream"
    assert ready_fields(local, "", "127.0.0.1:4000", Path("/r/tls/ca.pem")) == {
        "url": local,
        "listen": "127.0.0.1:4000",
        "local_url": local,
        "ca_file": "/r/tls/ca.pem",
    }
    public = ready_fields(local, "wss://rx.example.com/stream", "0.0.0.0:4000", None)
    assert (public["url"], public["ca_file"]) == ("wss://rx.example.com/stream", None)
