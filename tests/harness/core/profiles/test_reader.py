"""harness.core.profiles.reader: every mistake names the file, the line, the key and the fix."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.core.profiles.profile import ProfileError
from harness.core.profiles.reader import Reader
from harness.io.profile_file import load_profile


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "mine.toml"
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        (
            "[load]\nuserz = 5\n",
            2,
            "load.userz: is not a known key; did you mean 'users'?",
        ),
        ("[load]\nusers = 0\n", 2, "load.users: 0 is out of range; use 1 to 10000"),
        ("[load]\nusers = 2.5\n", 2, "load.users: 2.5 is not a whole number"),
        ('[load]\nduration = "soon"\n', 2, "load.duration: 'soon' is not a duration"),
        ('[load]\nhold = "3-1"\n', 2, "load.hold: '3-1' is not a time span"),
        (
            '[load]\nmodel = "open"\n',
            1,
            "load.rate: the open model needs an arrival rate",
        ),
        (
            '[matrix]\ncodecs = ["PCMU", "G722"]\n',
            2,
            "matrix.codecs: 'G722' is not allowed",
        ),
        (
            "[matrix]\nparams = [99]\n",
            2,
            "matrix.params: 99 is not allowed; use 0 to 98",
        ),
        ("[matrix]\ntracks = []\n", 2, "matrix.tracks: is empty"),
        (
            "[matrix.weights]\ncodecs = { PCMX = 2 }\n",
            2,
            "matrix.weights.codecs: 'PCMX' is not a value of matrix.codecs",
        ),
        (
            "[matrix.weights]\ncodecs = { PCMU = 0 }\n",
            2,
            "weight 0 of 'PCMU' is not a whole number from 1 to 1000",
        ),
        (
            '\n[thresholds]\n"jitter_ms.p99{codec=PCMZ}" = "< 5"\n',
            3,
            "thresholds.\"jitter_ms.p99{codec=PCMZ}\": 'PCMZ' is not a codec",
        ),
        ('[thresholds]\n"loss_ratio" = "< -1"\n', 2, "'< -1' can never hold"),
        (
            '[thresholds]\n"nope" = "< 1"\n',
            2,
            "thresholds.nope: 'nope' is not a metric",
        ),
        ('[thresholds]\n"loss_ratio" = 0.1\n', 2, "0.1 is not a condition"),
        (
            '[conformance]\nallow = ["WS-MEDIA-02"]\n',
            2,
            "'WS-MEDIA-02' is not a rule id",
        ),
        (
            '[conformance]\nnegative = true\nrequire = "some"\n',
            3,
            'conformance.require: \'some\' is not "all", "none" or a list of rule '
            'ids; write require = "all"',
        ),
        ("[conformance]\nrequire = 3\n", 2, "conformance.require: 3 is not"),
        (
            '[conformance]\nrequire = ["REST-REJCT-005"]\n',
            2,
            "conformance.require: 'REST-REJCT-005' is not a rule id; "
            "did you mean REST-REJECT-005?",
        ),
        ('[shape]\nkind = "wave"\n', 2, "shape.kind: 'wave' is not a shape"),
        ('[shape]\nkind = "spike"\n', 1, "shape.length: a spike needs a length"),
        ("[capacity]\nenabled = true\n", 2, "capacity search steps the load"),
        (
            '[capacity]\nsearch = "bisect"\n',
            2,
            "capacity.search: 'bisect' is not one of steps, adaptive",
        ),
        ('[capacity]\nconfirm = "twice"\n', 2, "'twice' is not one of next, repeat"),
        ("[capacity]\nfactor = 1\n", 2, "capacity.factor: 1 is out of range"),
        ('extends = "fast"\n', 1, "extends: 'fast' is not a built-in profile"),
        ("colour = 1\n", 1, "colour: is not a known key"),
        ("[load\nusers = 1\n", 1, "is not valid TOML"),
    ],
)
def test_mistakes_name_file_line_and_fix(tmp_path: Path, text, line, message) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ProfileError) as raised:
        load_profile(path)
    assert raised.value.line == line, str(raised.value)
    assert str(raised.value).startswith(f"{path}:{line}" if line else path)
    assert message in str(raised.value)
    assert "; " in str(raised.value)  # "<problem>; <fix>"


def test_lines_are_found_in_tables_dotted_keys_and_inline_tables() -> None:
    text = (
        '[load]\nusers = 3\n\n[thresholds]\n"setup_ms.p99" = "< 5"\nmatrix.codecs = 1\n'
    )
    reader = Reader(text, "x.toml")
    assert reader.line_of("load", "users") == 2
    assert reader.line_of("thresholds", "setup_ms.p99") == 5
    assert reader.line_of("load", "absent") == 1  # the table header
    assert reader.line_of("shape", "kind") == 0  # nowhere


@pytest.mark.parametrize(
    ("text", "require"),
    [
        ("", "none"),
        ('[conformance]\nrequire = "all"\n', "all"),
        (
            '[conformance]\nrequire = ["CB-001", "WS-SID-001"]\n',
            ("CB-001", "WS-SID-001"),
        ),
    ],
)
def test_require_reads_all_none_or_rule_ids_and_survives_profile_json(
    tmp_path: Path, text: str, require: object
) -> None:
    profile = load_profile(write(tmp_path, text))
    assert profile.conformance.require == require
    again = tmp_path / "profile.json"
    again.write_text(json.dumps(profile.document()))
    assert load_profile(str(again)).conformance.require == require


def test_smoke_and_conform_require_every_rule_default_none() -> None:
    assert load_profile("smoke").conformance.require == "all"
    assert load_profile("conform").conformance.require == "all"
    assert load_profile("default").conformance.require == "none"
