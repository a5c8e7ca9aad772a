"""The second platform stays independent, and its reading of the contract holds
against the vendors' own texts and a third-party signature implementation."""

from __future__ import annotations

import ast
import base64
import datetime
import email.utils
import json
from pathlib import Path

import pytest
from twilio.request_validator import RequestValidator

from tests.independent import contract as c


PACKAGE = Path(__file__).resolve().parent
EXAMPLES = PACKAGE.parent / "data" / "spec" / "ws-messages.examples.json"
FORBIDDEN = {"harness", "receivers", "reports", "scenarios"}


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
    return found


def test_the_package_imports_nothing_of_streamload() -> None:
    files = sorted(PACKAGE.glob("*.py"))
    assert len(files) >= 4
    bad: dict[str, list[str]] = {}
    for path in files:
        for module in _imports(path):
            top = module.split(".")[0]
            # tests.* is allowed only inside this package (tests.conftest imports harness)
            if top in FORBIDDEN or (
                top == "tests" and not module.startswith("tests.independent")
            ):
                bad.setdefault(path.name, []).append(module)
    assert bad == {}


def test_frame_sizes_are_20_ms_of_each_codec() -> None:
    sizes = {name: codec.frame_bytes for name, codec in c.CODECS.items()}
    assert sizes == {
        "PCMU": 160,
        "PCMA": 160,
        "L16": 320,
        "L16@16000h": 640,
        "L16@24000h": 960,
    }
    for name, codec in c.CODECS.items():
        payloads = c.frames(codec)
        assert len(payloads) == 50
        assert {len(base64.b64decode(p)) for p in payloads} == {codec.frame_bytes}, name


def test_g711_coders_hit_the_standard_code_points() -> None:
    # silence and the two clipping ends (ITU-T G.711 tables)
    assert [c.ulaw(s) for s in (0, 32767, -32768)] == [0xFF, 0x80, 0x00]
    assert [c.alaw(s) for s in (0, 32767, -32768)] == [0xD5, 0xAA, 0x2A]
    # monotonic inside each sign: larger magnitude, code further from silence
    positive = [0x7F - (c.ulaw(s) & 0x7F) for s in range(0, 32768, 97)]
    assert positive == sorted(positive)


def test_l16_is_big_endian() -> None:
    assert c.encode(c.CODECS["L16"], [1, -2]) == b"\x00\x01\xff\xfe"


def test_clean_messages_have_the_vendor_examples_keys() -> None:
    examples = json.loads(EXAMPLES.read_text())["signalwire"]["platform_to_server"]
    request = c.parse_create(
        [("Url", "wss://rx.example/s"), ("StreamCodec", "L16@24000h")]
    )
    start = json.loads(
        c.start_message(
            seq=1, stream_sid="s", account_sid="a", call_sid="x", request=request
        )
    )
    assert start.keys() == examples["start"].keys()
    assert start["start"].keys() == examples["start"]["start"].keys()
    assert start["start"]["mediaFormat"] == examples["start"]["start"]["mediaFormat"]
    assert start["start"]["tracks"] == [
        "inbound",
        "outbound",
    ]  # REST default both_tracks
    media = json.loads(
        c.media_message(
            seq=42, track="inbound", chunk=1, timestamp_ms=0, payload="AA=="
        )
    )
    assert media.keys() == examples["media"].keys()
    assert media["media"].keys() == examples["media"]["media"].keys()
    assert {k: v for k, v in media.items() if k != "media"} == {
        k: v for k, v in examples["media"].items() if k != "media"
    }
    assert json.loads(c.connected_message()) == examples["connected"]
    assert json.loads(c.stop_message(999)) == examples["stop"]


@pytest.mark.parametrize(
    ("form", "status", "code"),
    [
        ([("Url", "ws://rx.example/s")], 400, 31922),
        ([("Url", "wss://rx.example/s ")], 400, 31922),
        ([("Url", "wss:///s")], 400, 31922),
        ([("Name", "x")], 422, None),
        ([("Url", "wss://rx/s"), ("Track", "sideways_track")], 422, None),
        ([("Url", "wss://rx/s"), ("StreamCodec", "G729")], 422, None),
        (
            [
                ("Url", "wss://rx/s"),
                ("Parameter100.Name", "p"),
                ("Parameter100.Value", "v"),
            ],
            422,
            None,
        ),
        ([("Url", "wss://rx/s"), ("StreamRealTime", "maybe")], 422, None),
    ],
)
def test_invalid_creates_are_refused_with_a_documented_body(
    form: list[tuple[str, str]], status: int, code: int | None
) -> None:
    with pytest.raises(c.Refusal) as caught:
        c.parse_create(form)
    assert caught.value.status == status
    if code is None:
        assert set(caught.value.body) == {"errors"}
    else:
        assert caught.value.body["code"] == code
        assert set(caught.value.body) == {"code", "message", "more_info", "status"}


def test_parameters_keep_request_order_and_defects_break_them() -> None:
    form = [("Url", "wss://rx/s")]
    for i in (3, 1, 2):  # out of order on the wire: the index decides
        form += [(f"Parameter{i}.Name", f"n{i}"), (f"Parameter{i}.Value", f"v{i}")]
    request = c.parse_create(form)
    assert request.parameters == (("n1", "v1"), ("n2", "v2"), ("n3", "v3"))

    def params(*defects: str) -> list[tuple[str, str]]:
        doc = json.loads(
            c.start_message(
                seq=1,
                stream_sid="s",
                account_sid="a",
                call_sid="x",
                request=request,
                defects=frozenset(defects),
            )
        )
        return list(doc["start"]["customParameters"].items())

    assert params() == [("n1", "v1"), ("n2", "v2"), ("n3", "v3")]
    assert params("drop-last-param") == [("n1", "v1"), ("n2", "v2")]
    assert params("params-reordered") == [("n2", "v2"), ("n1", "v1"), ("n3", "v3")]
    assert params("param-altered")[0] == ("n1", "v1x")
    assert len(params("param-extra")) == 4
    assert c.parse_create(form, allow_ws=True).url == "wss://rx/s"
    assert c.parse_create([("Url", "ws://rx/s")], allow_ws=True).url == "ws://rx/s"


def test_signature_matches_twilios_own_validator() -> None:
    url = "https://127.0.0.1:8443/callbacks?streamload-method=POST"
    params = c.callback_params(
        account_sid="a",
        conference_sid="cf",
        stream_sid="s",
        name=None,
        event="stream-started",
        track="both_tracks",
        when=datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC),
    )
    validator = RequestValidator("signing-key")
    expected = validator.compute_signature(url, dict(params))
    assert c.sign("signing-key", url, params) == expected
    assert validator.validate(url, dict(params), c.sign("signing-key", url, params))
    assert c.sign("signing-key", url, params, sort=False) != expected


def test_response_document_has_the_seven_fields() -> None:
    when = datetime.datetime(2026, 12, 2, 11, 0, 0, tzinfo=datetime.UTC)
    doc = c.stream_document(
        account_sid="a",
        conference_sid="cf",
        sid="s",
        name=None,
        status="queued",
        updated=when,
    )
    assert list(doc) == [
        "account_sid",
        "conference_sid",
        "date_updated",
        "name",
        "sid",
        "status",
        "uri",
    ]
    assert doc["date_updated"] == "Wed, 02 Dec 2026 11:00:00 +0000"
    assert email.utils.parsedate_to_datetime(str(doc["date_updated"])) == when
    assert str(doc["uri"]).endswith("/Accounts/a/Conferences/cf/Streams/s.json")


def test_every_defect_names_known_rule_ids() -> None:
    assert {"accept-ws-url", "drop-last-param", "timestamp-fast"} <= set(c.DEFECTS)
    assert len(c.DEFECTS) >= 13
    for spec in c.DEFECTS.values():
        assert spec.rules
        assert all(r.split("-")[0] in ("REST", "WS", "CB") for r in spec.rules)
