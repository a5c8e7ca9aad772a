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

    assert '<span class="badge fail" id=verdict>FAIL</span>' in text
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
    assert '<span class="badge pass" id=verdict>PASS</span>' in text


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


def _with_metadata(report: Report, **extra: object) -> dict[str, object]:
    summary = dict(report.summary)
    summary.update(
        started_at="2026-12-02T10:00:00Z",
        target="embedded reference platform",
        profile={"name": "smoke", "source": "smoke (built-in)"},
        load={"model": "closed", "users": 4, "duration_s": 6.0, "shape": "constant"},
        version="1.2.3",
        git_commit="0123456789abcdef0123456789abcdef01234567",
        tags={"branch": "<main>"},
        files={"locust": "locust.html", "records": "records"},
        **extra,
    )
    return summary


def test_the_header_says_what_ran_then_gates_failures_first(
    failing_report: Report,
) -> None:
    text = render(_with_metadata(failing_report), failing_report.plots)
    header = text[text.index("<header>") : text.index("</header>")]
    gates = failing_report.summary["thresholds"]
    failed = sum(g["result"] == "fail" for g in gates)
    assert f"<strong>{len(gates)} gates, {failed} failed</strong>" in header
    for shown in (
        "<dt>Profile</dt><dd>smoke (built-in)</dd>",
        "<dt>Target</dt><dd>embedded reference platform</dd>",
        "<dt>Load</dt><dd>4 users (closed model), 6 s</dd>",
        "<dt>Started</dt><dd>2026-12-02 10:00:00 UTC</dd>",
        "<dt>streamload</dt><dd>1.2.3, commit 0123456789ab</dd>",
        "<dt>Tags</dt><dd>branch=&lt;main&gt;</dd>",
        '<a href="locust.html">Locust&#x27;s report</a>',
        '<a href="records/">records</a>',
    ):
        assert shown in header, shown
    assert "logs/" not in header  # not in this run's files
    assert "producers:" not in text  # internal words left the header
    assert (
        "Records written by 1 load generator, 1 receiver, 1 reference platform." in text
    )
    rows = re.findall(r"<tr class=gate-([a-z-]+)>", text)
    assert rows == sorted(rows, key=lambda r: r != "fail") and rows[0] == "fail"
    order = [
        text.index("</header>"),
        text.index("<h2 id=gates>"),
        text.index("<h2>Accounting</h2>"),
    ]
    assert order == sorted(order)


def test_many_passed_gates_fold_away(passing_report: Report) -> None:
    gates = [
        {**passing_report.summary["thresholds"][0], "name": f"g{i}"} for i in range(12)
    ]
    gates[7] = {**gates[7], "result": "fail"}
    text = render(_with_metadata(passing_report, thresholds=gates))
    assert "<strong>12 gates, 1 failed</strong>" in text
    table, folded = text.split("<details><summary>11 gates passed</summary>")
    assert table.count("<tr class=gate-fail>") == 1
    assert folded.count("<tr class=gate-pass>") == 11
