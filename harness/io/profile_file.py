"""Loading a profile: a built-in by name, a ``.toml`` file, or a run's ``profile.json``.

The reading half of profiles; checking what was read is the sans-I/O
:mod:`harness.core.profiles.profile`. The built-ins are package data of
:mod:`harness.core.profiles` (``*.toml``), read here and handed in.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from harness.core.profiles.profile import parse_profile
from harness.core.profiles.spec import BUILTIN, Profile, ProfileError


__all__ = ["builtin_text", "builtin_texts", "load_profile"]


def builtin_text(name: str) -> str:
    """A built-in profile's TOML text (``default``, ``smoke``...)."""
    path = resources.files("harness.core.profiles").joinpath(f"{name}.toml")
    return path.read_text(encoding="utf-8")


def builtin_texts() -> dict[str, str]:
    """Every built-in's TOML text by name, what ``extends`` resolves against."""
    return {name: builtin_text(name) for name in BUILTIN}


def load_profile(ref: str) -> Profile:
    """A built-in by name, a ``.toml`` file, or a run's ``profile.json``.

    A file in the working directory named like a built-in wins over the built-in.

    Raises:
        ProfileError: the file is missing, is not TOML/JSON, or has a mistake.
    """
    builtins = builtin_texts()
    if ref in BUILTIN and not Path(ref).exists():
        return parse_profile(
            builtins[ref], f"{ref} (built-in)", name=ref, builtins=builtins
        )
    path = Path(ref)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ProfileError(
            ref,
            0,
            "",
            f"cannot read the profile ({exc.strerror or exc})",
            f"give a .toml file or a built-in: {', '.join(BUILTIN)}",
        ) from None
    return parse_profile(text, str(path), name=path.stem, builtins=builtins)
