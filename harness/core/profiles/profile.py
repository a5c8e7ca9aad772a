"""Profiles: a run's load, request matrix, gates and report options, read from TOML.

A profile is data a team keeps in its repository (``nightly.toml``) or one of
the built-ins (``default``, ``smoke``, ``nightly``, ``capacity``,
``codec-compare`` in ``harness/core/profiles/``). A file ``extends`` a built-in
(``default`` unless it names one) and overrides tables key by key. Every
mistake is found before any process starts (:mod:`harness.core.profiles.reader`)
and reported as :class:`ProfileError` with the file, the line and the fix. Command-line flags
override single values through :func:`apply_overrides`, which runs the same
checks, so a flag and a profile key can never disagree on what is valid.

A resolved profile is written into each run directory as ``profile.json`` in
the same document layout (:meth:`Profile.document`), so the report, a rerun and
``locust --sl-profile`` all read exactly what the run used.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Mapping
from typing import Any, Final

from harness.core.errors import ConfigError
from harness.core.profiles.reader import Reader
from harness.core.profiles.spec import (
    BUILTIN,
    DIMENSIONS,
    MAX_DURATION_S,
    MAX_USERS,
    BudgetSpec,
    CapacitySpec,
    ConformanceSpec,
    Load,
    MatrixSpec,
    PlatformSpec,
    Profile,
    ProfileError,
    ReportSpec,
    ShapeSpec,
)
from harness.core.profiles.thresholds import parse_threshold


__all__ = [
    "BUILTIN",
    "DIMENSIONS",
    "MAX_DURATION_S",
    "MAX_USERS",
    "BudgetSpec",
    "CapacitySpec",
    "ConformanceSpec",
    "Load",
    "MatrixSpec",
    "PlatformSpec",
    "Profile",
    "ProfileError",
    "ReportSpec",
    "ShapeSpec",
    "apply_overrides",
    "parse_profile",
]

Json = dict[str, Any]


def parse_profile(
    text: str,
    source: str,
    *,
    name: str = "profile",
    builtins: Mapping[str, str] | None = None,
) -> Profile:
    """Parse and check a profile's text (TOML, or the JSON a run wrote).

    ``builtins`` (name -> TOML text) resolves ``extends``; reading a file or a
    built-in is :mod:`harness.io.profile_file`'s job, so this stays sans-I/O.
    """
    try:
        return _parse_profile(text, source, name, builtins)
    except RecursionError:
        raise ProfileError(
            source, 0, "", "is nested too deep to be a profile", "fix the file"
        ) from None


def _parse_profile(
    text: str, source: str, name: str, builtins: Mapping[str, str] | None
) -> Profile:
    doc: Json
    if text.lstrip().startswith("{"):
        try:
            doc = json.loads(text)
        except ValueError as exc:
            raise ProfileError(
                source, 0, "", f"is not valid JSON ({exc})", "fix the file"
            ) from None
    else:
        try:
            doc = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            m = re.search(r"at line (\d+)", str(exc))
            raise ProfileError(
                source,
                int(m.group(1)) if m else 0,
                "",
                f"is not valid TOML ({str(exc).split(' (at')[0]})",
                "fix the syntax (see toml.io)",
            ) from None
    return Reader(text, source, builtins).profile(doc, name)


_OVERRIDES: Final[dict[str, tuple[str, str]]] = {
    # flag key -> (section, key)
    "users": ("load", "users"),
    "rate": ("load", "rate"),
    "spawn_rate": ("load", "spawn_rate"),
    "duration": ("load", "duration"),
    "hold": ("load", "hold"),
    "wait": ("load", "wait"),
    "conferences": ("load", "conferences"),
    "processes": ("load", "processes"),
    "receivers": ("load", "receivers"),
    "platform_processes": ("platform", "processes"),
    "codecs": ("matrix", "codecs"),
    "tracks": ("matrix", "tracks"),
    "params": ("matrix", "params"),
    "param_size": ("matrix", "param_size"),
    "real_time": ("matrix", "real_time"),
    "bearer_token": ("matrix", "bearer_token"),
    "status_callback": ("matrix", "status_callback"),
    "stop_by": ("matrix", "stop_by"),
    "negative": ("conformance", "negative"),
    "max_streams": ("budget", "max_streams"),
    "max_stream_minutes": ("budget", "max_stream_minutes"),
}


def apply_overrides(profile: Profile, flags: Mapping[str, tuple[str, str]]) -> Profile:
    """Apply ``{key: (flag, text)}`` over ``profile``; errors name the flag.

    Keys are those of ``_OVERRIDES`` (``users``, ``codecs``...), where ``rate``
    also switches to the open model, plus ``threshold`` (``KEY=CONDITION``
    lines), ``fault`` and ``defect`` (lines) and ``seed``.
    """
    doc = profile.document()
    for key, (flag, text) in flags.items():
        if key == "threshold":
            for item in text.splitlines():
                name, eq, cond = item.partition("=")
                if not eq or not name.strip():
                    raise ConfigError(
                        flag,
                        f"{item!r} is not KEY=CONDITION",
                        "write e.g. 'setup_ms.p99=< 500'",
                    )
                if cond.strip() == "off":  # drop a gate the profile declares
                    doc["thresholds"].pop(name.strip(), None)
                    continue
                try:
                    parse_threshold(name.strip(), cond.strip())
                except ConfigError as exc:
                    raise ConfigError(
                        flag, f"{item!r}: {exc.problem}", exc.fix
                    ) from None
                doc["thresholds"][name.strip()] = [cond.strip()]
                doc["sources"][name.strip()] = flag  # not the line it replaced
        elif key in ("fault", "defect"):
            plural = f"{key}s"
            doc["platform"][plural] = [*doc["platform"][plural], *text.splitlines()]
        elif key == "seed":
            try:
                doc["platform"]["seed"] = int(text)
            except ValueError:
                raise ConfigError(
                    flag, f"{text!r} is not a whole number", "give e.g. 1"
                ) from None
        else:
            section, name = _OVERRIDES[key]
            doc[section][name] = _flag_value(section, name, text)
            if key == "rate":
                doc["load"]["model"] = "open"
    try:
        return Reader("", profile.source).profile(doc, profile.name)
    except ProfileError as exc:
        culprit: str | None = next(
            (
                f
                for k, (f, _) in flags.items()
                if k in _OVERRIDES and exc.key == ".".join(_OVERRIDES[k])
            ),
            None,
        )
        if culprit is None:
            for prefix, k in (
                ("platform.", "fault"),
                ("shape.", "users"),
                ("capacity.", "users"),
            ):
                if exc.key.startswith(prefix) and k in flags:
                    culprit = flags[k][0]
        if culprit is None:
            raise
        raise ConfigError(culprit, exc.problem, exc.fix) from None


def _flag_value(section: str, name: str, text: str) -> Any:
    """A flag's text as the document value the profile reader expects."""
    if name == "negative":
        lowered = text.strip().lower()
        return {"on": True, "true": True, "off": False, "false": False}.get(
            lowered, text
        )
    if section == "matrix":
        items = [p.strip() for p in text.split(",") if p.strip()]
        if name == "params":
            return [int(p) if p.isdigit() else p for p in items]
        return items
    if name in ("users", "conferences", "processes", "receivers", "max_streams"):
        try:
            return int(text)
        except ValueError:
            return text
    if name in ("rate", "spawn_rate", "max_stream_minutes"):
        try:
            return float(text)
        except ValueError:
            return text
    return text
