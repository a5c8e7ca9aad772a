"""reports.render.html: one self-contained page with inline SVG plots."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from reports.render.html import render
from reports.summary import Report
from tests.reports.conftest import EVIL


class Tags(HTMLParser):
    """Collect start tags and their attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def parse(text: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = Tags()
    parser.feed(text)
    return parser.tags


def test_self_contained_with_inline_plots(failing_report: Report) -> None:
    text = render(failing_report.summary, failing_report.plots)
    tags = parse(text)

    assert text.startswith("<!DOCTYPE html>")
    assert text.count("<svg") >= 3
    assert not [
        t for t, _ in tags if t in {"script", "link", "img", "iframe", "object"}
    ]
    external = re.compile(r"^\s*(https?:)?//", re.I)
    links = 0
    for tag, attrs in tags:
        for name in ("src", "href", "xlink:href"):
            if tag == "a" and name == "href":  # a link to follow loads nothing
                links += bool(external.match(attrs.get(name) or ""))
                continue
            assert not external.match(attrs.get(name) or ""), (tag, attrs)
    assert links > 0  # each rule links the public pages of its section
    assert not re.search(
        r"<(?!a\s)[a-z:]+[^>]*\s(src|href)\s*=\s*[\"']?\s*https?:", text, re.I
    )
    assert "@import" not in text
    assert not re.search(r"url\(\s*['\"]?\s*(https?:)?//", text, re.I)


def test_values_and_tables(failing_report: Report) -> None:
    text = render(failing_report.summary, failing_report.plots)

    assert '<span class="badge fail">FAIL</span>' in text
    assert "<code>performance.codecs.PCMA.loss_ratio</code>" in text
    assert "<code>WS-MEDIA-003</code>" in text
    assert "Transit latency by percentile" in text
    assert "Media per codec and track" in text


def test_hostile_evidence_is_escaped(failing_report: Report) -> None:
    text = render(failing_report.summary, failing_report.plots)

    assert EVIL not in text
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in text
    assert "<script" not in text


def test_without_plots_or_data(passing_report: Report) -> None:
    text = render(passing_report.summary)

    assert "<svg" not in text
    assert '<span class="badge pass">PASS</span>' in text


def test_harness_streams_and_histograms_sections(passing_report: Report) -> None:
    summary = passing_report.summary
    text = render(summary)
    assert "<h2>Streams</h2>" in text and "real-time factor" in text
    assert "Harness kept up, platform pacing p99 0 ms." in text  # no health rows
    saturated = {
        **summary,
        "performance": {
            **summary["performance"],
            "harness": {
                "measured": True,
                "saturated": True,
                "reasons": ["receiver-0: event-loop CPU p90 97% > 85% of a core"],
                "producers": {
                    "receiver-0": {
                        "kind": "receiver", "samples": 5,
                        "loop_cpu": {"p50": 0.9, "p90": 0.97, "max": 0.99},
                        "process_cpu": {"p90": 1.0},
                        "lag_ms": {"p99": 30.0, "max": 50.0},
                        "gc": {"pauses": 3, "max_ms": 12.0}, "rss_max_mb": 80.0,
                    }
                },
            },
            "receiver_histograms": {
                "PCMU": {"inbound": {"jitter_ms": {"count": 9, "p50": 0.2, "p99": 1.0,
                                                   "p999": 1.0, "max": 1.1}}}
            },
        },
    }  # fmt: skip
    text = render(saturated)
    assert '<span class="badge fail">harness saturated</span>' in text
    assert "Harness SATURATED" in text and "event-loop CPU p90 97%" in text
    assert "<h2>Harness health</h2>" in text and "<h2>Receiver histograms</h2>" in text
