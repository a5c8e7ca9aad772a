"""harness.io.profile_file: built-ins by name, files by path, each checked by the core."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.core.profiles.profile import parse_profile
from harness.core.profiles.spec import BUILTIN, ProfileError
from harness.io.profile_file import builtin_texts, load_profile


def test_every_builtin_is_package_data_and_loads_by_name() -> None:
    texts = builtin_texts()
    assert sorted(texts) == sorted(BUILTIN)
    for name in BUILTIN:
        assert load_profile(name).source == f"{name} (built-in)"


def test_a_file_extends_a_builtin_read_from_the_package(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text('extends = "smoke"\n[load]\nusers = 3\n', encoding="utf-8")
    profile = load_profile(str(path))
    assert profile.name == "mine" and profile.load.users == 3
    assert profile.load.duration_s == load_profile("smoke").load.duration_s


def test_a_missing_file_names_the_file_and_the_builtins(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="cannot read the profile") as info:
        load_profile(str(tmp_path / "none.toml"))
    assert "default, smoke" in info.value.fix


def test_the_core_without_the_builtins_says_where_they_come_from() -> None:
    with pytest.raises(ProfileError, match="no built-in profiles were given"):
        parse_profile('extends = "smoke"\n', "x.toml")
    assert parse_profile('extends = "smoke"\n', "x.toml", builtins=builtin_texts())
