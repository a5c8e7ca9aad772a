"""Renderers: one module per output format, each ``summary -> text``."""

from __future__ import annotations


__all__: list[str] = []
