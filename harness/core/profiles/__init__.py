"""Profiles as data: the schema (``spec``), the checking reader (``reader``),
gate keys (``thresholds``), flag overrides (``profile``) and the built-in
``*.toml`` (package data). Reading a file is :mod:`harness.io.profile_file`.
"""

from __future__ import annotations


__all__: list[str] = []
