"""harness.core.lines: the ready/stats line format, written and read by one definition."""

from __future__ import annotations

from pathlib import Path

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
