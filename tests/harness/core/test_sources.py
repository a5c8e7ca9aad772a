"""Every citation in the code resolves to a section of docs/contract.md and its public pages."""

from __future__ import annotations

import re

import pytest

from harness.core.rules import RULES
from harness.core.sources import CONTRACT, PAGES, SECTIONS, pages_of, sections_of
from harness.platform.core.defects import DEFECTS
from tests.conftest import REPO


CONTRACT_TEXT = (REPO / CONTRACT).read_text(encoding="utf-8")


def test_every_rule_and_defect_cites_known_sections_with_pages() -> None:
    citations = [r.section for r in RULES.values()]
    citations += [d.section for d in DEFECTS.values()]
    for citation in citations:
        assert sections_of(citation), citation
        numbers = sections_of(citation)
        if any(n not in ("9", "10") for n in numbers):
            assert pages_of(citation), citation


def test_every_section_is_a_heading_of_the_contract_page() -> None:
    headings = set(re.findall(r"^#{2,3} (\d+(?:\.\d+)?)\.? ", CONTRACT_TEXT, re.M))
    assert set(SECTIONS) <= headings | {"9"}, set(SECTIONS) - headings


def test_every_page_is_listed_on_the_contract_page_and_is_public_https() -> None:
    for key, (title, url) in PAGES.items():
        assert url.startswith("https://") and title, key
        assert f"| {key} |" in CONTRACT_TEXT and url in CONTRACT_TEXT, key


def test_a_citation_of_a_missing_section_fails_loudly() -> None:
    with pytest.raises(KeyError, match="§7.7"):
        sections_of("§5.2, §7.7")


def test_pages_are_listed_once_in_citation_order() -> None:
    pages = pages_of("§5.4, §5.2, §5.1, §10")
    assert [p[0] for p in pages] == [PAGES["TW-WS"][0], PAGES["SW-CXML"][0]]


BAD = ("api.md", "limits.md", "style.md", "/".join(("..", "shared")))
"""The team's research notes and the folder beside the repo that holds them: not
in a clone, so never cited (the path is spelt in parts so this file names no
place outside the repo itself)."""


def test_nothing_in_the_repository_cites_files_a_user_does_not_have() -> None:
    offenders: list[str] = []
    for folder in (
        "harness",
        "receivers",
        "reports",
        "scenarios",
        "scripts",
        "tests",
        "docs",
    ):
        for path in (REPO / folder).rglob("*"):
            if path.suffix not in (".py", ".md", ".toml", ".sh") or not path.is_file():
                continue
            if path.name == "test_sources.py":
                continue
            text = path.read_text(encoding="utf-8")
            offenders.extend(
                f"{path.relative_to(REPO)}: {bad}" for bad in BAD if bad in text
            )
    for name in ("README.md", "pyproject.toml"):
        text = (REPO / name).read_text(encoding="utf-8")
        offenders.extend(f"{name}: {bad}" for bad in BAD if bad in text)
    assert offenders == []
