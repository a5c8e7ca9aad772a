"""The report's first screen, as headless Chromium shows it at 1400x900, offline.

Issue 15: a person opening ``report.html`` must see, without scrolling, what
ran (profile, target, load, start, version, tags), the verdict, and the gate
that failed with the file and line it was declared at. The report is built by
``streamload report``'s own code from a small real record set (the producers'
sink, as in ``tests/reports``), with ``run.json`` and ``profile.json`` as a run
writes them; Chromium loads it with the network cut off and every request it
made recorded; the layout is read through DevTools, never by a script in the
page (the report has none).
"""

from __future__ import annotations

import json
import os
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest
from PIL import Image

from harness.io.profile_file import load_profile
from reports.__main__ import write_reports
from tests.e2e.chromium import HEIGHT, WIDTH, find_chromium, open_page
from tests.reports.conftest import build_failing


pytestmark = pytest.mark.e2e

PROFILE = """\
name = "screen"
description = "The first-screen test: a loss gate the record set breaks."

[thresholds]
"loss_ratio" = "<= 0.001"
"""
LOSS_LINE = 5
FAIL_BADGE = (0xFD, 0xE2, 0xE1)
"""The ``fail`` badge's background (``.fail`` in the report's CSS)."""
LAYOUT = """(() => {
  const box = (el) => {
    const r = el.getBoundingClientRect();
    return {top: r.top, bottom: r.bottom, left: r.left, right: r.right,
            width: r.width, height: r.height, visible: el.checkVisibility(),
            text: el.innerText};
  };
  const one = (sel) => { const el = document.querySelector(sel);
                         return el ? box(el) : null; };
  return {viewport: [innerWidth, innerHeight, scrollY],
          verdict: one('#verdict'), headline: one('#headline'),
          meta: one('#run-meta'),
          failed: [...document.querySelectorAll('tr.gate-fail')].map(box)};
})()"""


def _chromium() -> str:
    """Debian's chromium; missing is a skip only where it cannot be installed."""
    found = find_chromium()
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        pytest.fail(
            "chromium is missing although this is root with apt-get: "
            "run 'bash scripts/system-packages' (scripts/test does)"
        )
    pytest.skip("chromium is not installed and this is not root with apt-get")


def _run_dir(tmp: Path) -> Path:
    """A run directory as ``streamload run`` leaves it, with a failing gate."""
    profile_file = tmp / "screen.toml"
    profile_file.write_text(PROFILE)
    run = build_failing(tmp / "run")
    (run / "profile.json").write_text(
        json.dumps(load_profile(str(profile_file)).document())
    )
    (run / "run.json").write_text(
        json.dumps(
            {
                "run_id": "screen-1",
                "profile": "screen",
                "profile_source": str(profile_file),
                "target": "https://who:s3cret@platform.example.test/api/laml/2010-04-01",
                "started_wall": "2026-12-02T10:00:00Z",
                "version": "9.8.7",
                "git_commit": "0123456789abcdef0123456789abcdef01234567",
                "tags": {"build": "42", "branch": "main"},
                "negative": {"state": "off", "why": ""},
                "events": [],
            }
        )
    )
    (run / "locust.html").write_text("<!DOCTYPE html><title>Locust</title>")
    verdict, _, code = write_reports(run)
    assert (verdict, code) == ("fail", 1)
    return run


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def _loads_nothing(text: str) -> None:
    """No element that fetches: no script, style sheet, image or frame; links only."""
    parser = _Tags()
    parser.feed(text)
    fetching = {"script", "link", "img", "iframe", "object", "embed", "source"}
    assert not [tag for tag, _ in parser.tags if tag in fetching]
    for tag, attrs in parser.tags:
        assert "src" not in attrs, tag
        if "href" in attrs:
            assert tag == "a", tag
        assert (attrs.get("xlink:href") or "#").startswith("#"), attrs
    assert "@import" not in text
    assert not re.search(r"url\(\s*['\"]?\s*(?!#)", text)  # only url(#in-page)


def test_first_screen_shows_verdict_metadata_and_the_failed_gate(
    tmp_path: Path,
) -> None:
    chromium = _chromium()
    run = _run_dir(tmp_path)
    html = (run / "report.html").read_text()
    _loads_nothing(html)
    assert "s3cret" not in html and "who:" not in html  # credentials stay out
    assert '<a href="locust.html">' in html and '<a href="records/">' in html

    page = open_page(
        chromium,
        (run / "report.html").as_uri(),
        tmp_path / "chromium",
        tmp_path / "log",
    )
    try:
        layout = page.evaluate(LAYOUT)
        shot = page.screenshot(tmp_path / "first-screen.png")
        requested = page.requested()
    finally:
        page.close()

    assert requested == [(run / "report.html").as_uri()]  # offline: nothing else
    assert layout["viewport"] == [WIDTH, HEIGHT, 0]
    first_screen = [layout["verdict"], layout["headline"], layout["meta"]]
    assert layout["failed"], "no failed gate row in the page"
    first_screen += layout["failed"]  # every failed gate, not only the first
    for box in first_screen:
        assert box is not None and box["visible"] and box["width"] > 0, box
        assert 0 <= box["top"] and box["bottom"] <= HEIGHT, box
    assert layout["verdict"]["text"] == "FAIL"
    assert re.fullmatch(r"\d+ gates, [1-9]\d* failed.*", layout["headline"]["text"])
    meta = layout["meta"]["text"]
    for shown in (
        "Profile",
        "screen",
        "Target",
        "https://platform.example.test/api/laml/2010-04-01",
        "Load",
        "Started",
        "2026-12-02 10:00:00 UTC",
        "9.8.7, commit 0123456789ab",
        "build=42",
    ):
        assert shown in meta, (shown, meta)
    rows = [row["text"] for row in layout["failed"]]
    assert any(
        "loss_ratio [codec=PCMA]" in row and f"screen.toml:{LOSS_LINE}" in row
        for row in rows
    ), rows

    image = Image.open(shot).convert("RGB")
    assert image.size == (WIDTH, HEIGHT)
    v = layout["verdict"]
    badge = image.crop(
        (int(v["left"]), int(v["top"]), int(v["right"]), int(v["bottom"]))
    )
    colours = badge.getcolors(maxcolors=badge.width * badge.height) or []
    painted = sum(n for n, colour in colours if colour == FAIL_BADGE)
    assert painted > badge.width * badge.height // 2  # the red verdict is painted
