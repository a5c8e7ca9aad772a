"""The defect table is a public interface: its names, areas and errors are pinned here."""

from __future__ import annotations

import pytest

from harness.core.errors import ConfigError
from harness.platform.core.defects import DEFECTS, parse_defects


def test_the_names_are_exactly_the_published_ones() -> None:
    ws = {
        "chunk-global", "numeric-fields", "payload-size", "media-format",
        "custom-parameters", "missing-stop", "seq-skip", "timestamp-drift",
        "wrong-tracks", "stream-sid-mismatch", "bearer-missing", "version",
        "message-after-stop", "drop-correlation", "alter-correlation",
        "extra-parameter", "rename-parameter", "reorder-parameters",
        "timestamp-fast",
    }  # fmt: skip
    rest = {
        "accept-ws-url", "date-format", "extra-field", "status-stopped",
        "name-not-null", "uri-no-json", "sid-not-uuid", "content-type-text",
    }  # fmt: skip
    callback = {"callback-unsigned", "callback-order"}
    by_area = {
        area: {d.name for d in DEFECTS.values() if d.area == area}
        for area in ("ws", "rest", "callback")
    }
    assert by_area == {"ws": ws, "rest": rest, "callback": callback}
    for name, defect in DEFECTS.items():
        assert defect.name == name
        assert defect.description and "\n" not in defect.description
        assert defect.section.startswith("§")


def test_parse_defects_accepts_known_names_once_each() -> None:
    assert parse_defects([]) == frozenset()
    assert parse_defects(["version", "seq-skip", "version"]) == {"version", "seq-skip"}


def test_an_unknown_defect_names_the_fix() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_defects(["chunk-globale"])
    text = str(caught.value)
    assert text.startswith("--defect: unknown defect 'chunk-globale'; use one of ")
    assert "chunk-global," in text and "\n" not in text
