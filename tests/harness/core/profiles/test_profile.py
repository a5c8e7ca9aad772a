"""harness.core.profiles.profile: built-ins, user files, overrides, and mistakes with file, line and fix."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from harness.core.errors import ConfigError
from harness.core.profiles.profile import (
    BUILTIN,
    ProfileError,
    apply_overrides,
    parse_profile,
)
from harness.io.profile_file import builtin_text, load_profile


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
    # inherited gates name the built-in's line, however far up the chain
    gates = {g.name: g.source for g in profile.gates()}
    for name, builtin in (("setup_ms.p99", "smoke"), ("loss_ratio", "default")):
        lines = builtin_text(builtin).splitlines()
        line = next(
            i for i, text in enumerate(lines, 1) if text.startswith(f'"{name}"')
        )
        assert gates[name] == f"{builtin} (built-in):{line}"


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
    # the gate a flag replaced names the flag, not the line it replaced
    sources = {g.name: g.source for g in profile.gates()}
    assert sources["setup_ms.p99"] == "--threshold"
    assert sources["jitter_ms.p99"].startswith("smoke (built-in):")
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


def test_the_budget_section_reads_checks_and_round_trips(tmp_path: Path) -> None:
    profile = load_profile(
        write(
            tmp_path,
            'extends = "smoke"\n[budget]\nmax_streams = 40\nmax_stream_minutes = 2.5\n',
        )
    )
    assert (profile.budget.max_streams, profile.budget.max_stream_minutes) == (
        40,
        2.5,
    )
    assert load_profile("smoke").budget.max_streams == 0  # no cap unless asked
    again = apply_overrides(profile, {"max_streams": ("--max-streams", "7")})
    assert (again.budget.max_streams, again.budget.max_stream_minutes) == (7, 2.5)
    with pytest.raises(ProfileError) as info:
        load_profile(write(tmp_path, "[budget]\n\nmax_streams = -1\n"))
    assert str(info.value).startswith(f"{tmp_path / 'mine.toml'}:3: budget.max_streams")
    with pytest.raises(ProfileError, match=r":2: budget.max_stream: .*not a known key"):
        load_profile(write(tmp_path, "[budget]\nmax_stream = 1\n"))
    with pytest.raises(ConfigError, match="^--max-stream-minutes: "):
        apply_overrides(profile, {"max_stream_minutes": ("--max-stream-minutes", "x")})


@pytest.mark.parametrize(
    "text",
    [
        '{"a": ' + "[" * 100_000 + "]" * 100_000 + "}",
        "a = " + "[" * 100_000 + "]" * 100_000,
    ],
)
def test_a_profile_nested_too_deep_is_a_config_error(text: str) -> None:
    with pytest.raises(ConfigError, match="nested too deep"):
        parse_profile(text, "deep.toml")
