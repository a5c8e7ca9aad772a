"""harness.profile: built-ins, user files, overrides, and mistakes with file, line and fix."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from harness.errors import ConfigError
from harness.profile import (
    BUILTIN,
    ProfileError,
    ShapeSpec,
    apply_overrides,
    load_profile,
    parse_profile,
)


@pytest.mark.parametrize("name", BUILTIN)
def test_every_builtin_loads_and_compiles_its_gates(name: str) -> None:
    profile = load_profile(name)
    assert profile.name == name and profile.description
    assert profile.gates() or profile.conformance.gate
    again = parse_profile(json.dumps(profile.document()), "run/profile.json")
    assert dataclasses.replace(again, source=profile.source) == profile
    assert [g.source for g in again.gates()] == [g.source for g in profile.gates()]


def test_the_smoke_profile_covers_the_whole_request_space() -> None:
    values = load_profile("smoke").matrix.values
    assert values["codecs"] == ("PCMU", "PCMA", "L16", "L16@16000h", "L16@24000h")
    assert values["params"] == ("0", "1", "10", "98")
    assert values["param_size"] == ("short", "long")
    assert values["real_time"] == ("omit", "true", "false")
    assert values["bearer_token"] == ("on", "off")
    assert values["status_callback"] == ("off", "on")
    assert values["stop_by"] == ("sid", "name")


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "mine.toml"
    path.write_text(text)
    return str(path)


def test_a_user_file_extends_a_builtin_key_by_key(tmp_path: Path) -> None:
    profile = load_profile(
        write(
            tmp_path,
            """
extends = "smoke"
[load]
users = 7
[matrix.weights]
codecs = { PCMU = 3 }
[thresholds]
"jitter_ms.p99{codec=PCMU}" = "< 5"
"latency_ms.p99" = "off"
""",
        )
    )
    assert profile.load.users == 7 and profile.load.duration_s == 6.0  # from smoke
    assert profile.matrix.weight("codecs", "PCMU") == 3
    names = [g.name for g in profile.gates()]
    assert "jitter_ms.p99{codec=PCMU}" in names and "latency_ms.p99" not in names
    mine = next(g for g in profile.gates() if g.name == "jitter_ms.p99{codec=PCMU}")
    assert mine.source.endswith("mine.toml:8")
    inherited = next(g for g in profile.gates() if g.name == "setup_ms.p99")
    assert inherited.source == "smoke (built-in)"


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
        ('[shape]\nkind = "wave"\n', 2, "shape.kind: 'wave' is not a shape"),
        ('[shape]\nkind = "spike"\n', 1, "shape.length: a spike needs a length"),
        ("[capacity]\nenabled = true\n", 2, "capacity search steps the load"),
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


def test_a_missing_file_names_the_builtins(tmp_path: Path) -> None:
    with pytest.raises(
        ProfileError, match="give a .toml file or a built-in: default, smoke"
    ):
        load_profile(str(tmp_path / "none.toml"))


def test_overrides_go_through_the_same_checks_and_name_the_flag() -> None:
    base = load_profile("smoke")
    profile = apply_overrides(
        base,
        {
            "users": ("--users", "3"),
            "codecs": ("--codecs", "PCMU,PCMA"),
            "rate": ("--rate", "12.5"),
            "threshold": ("--threshold", "setup_ms.p99=< 200\nlatency_ms.p99=off"),
            "fault": ("--fault", "delay=5ms"),
        },
    )
    assert profile.load.users == 3 and profile.load.model == "open"
    assert profile.load.rate == 12.5
    assert profile.matrix.values["codecs"] == ("PCMU", "PCMA")
    assert profile.thresholds["setup_ms.p99"] == ("< 200",)
    assert "latency_ms.p99" not in profile.thresholds
    assert profile.platform.faults == ("delay=5ms",)
    for flags, message in (
        ({"users": ("--users", "0")}, "--users: 0 is out of range"),
        ({"codecs": ("--codecs", "G722")}, "--codecs: 'G722' is not allowed"),
        ({"duration": ("--duration", "soon")}, "--duration: 'soon' is not a duration"),
        (
            {"threshold": ("--threshold", "jitter_ms.p98=< 5")},
            "--threshold: 'jitter_ms.p98=< 5': 'p98' is not an aggregation",
        ),
        (
            {"threshold": ("--threshold", "nonsense")},
            "--threshold: 'nonsense' is not KEY",
        ),
    ):
        with pytest.raises(ConfigError) as raised:
            apply_overrides(base, flags)
        assert str(raised.value).startswith(message), str(raised.value)


@pytest.mark.parametrize(
    ("spec", "times", "users"),
    [
        (
            ShapeSpec(kind="step", start=2, step=2, every_s=4),
            [0, 3.9, 4, 8, 12, 59],
            [2, 2, 4, 6, 6, 6],
        ),
        (ShapeSpec(kind="ramp", start=1, ramp_s=10), [0, 5, 10], [1, 3, 6]),
        (
            ShapeSpec(kind="spike", base=1, at_s=5, length_s=2),
            [0, 5, 6.9, 7],
            [1, 6, 6, 1],
        ),
        (ShapeSpec(kind="soak", ramp_s=6), [0, 3, 6, 50], [0, 3, 6, 6]),
        (ShapeSpec(), [0, 59], [6, 6]),
    ],
)
def test_shapes_stay_within_users_and_time(spec, times, users) -> None:
    assert [spec.users_at(t, 6, 60) for t in times] == users
    assert spec.users_at(60, 6, 60) is None


def test_step_levels_for_the_capacity_search() -> None:
    spec = ShapeSpec(kind="step", start=2, step=2, every_s=4)
    assert spec.levels(6, 16) == [(2, 0, 4), (4, 4, 8), (6, 8, 16)]
    assert ShapeSpec().levels(5, 10) == [(5, 0.0, 10)]
