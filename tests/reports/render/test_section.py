"""Added sections reach report.md and report.html through the one seam, in place."""

from __future__ import annotations

from reports.render import html, markdown
from reports.render.section import Section, placed
from reports.summary import Report


TOP = Section(
    key="capacity", markdown=["", "## Top"], html="<h2>Top</h2>", placement="top"
)
END = Section(key="timeline", markdown=["", "## End"], html="<h2>End</h2>")


def test_placed_keeps_the_given_order() -> None:
    other = Section(key="codec_compare", markdown=[], html="")
    assert placed([END, TOP, other], "end") == [END, other]
    assert placed([END, TOP, other], "top") == [TOP]


def test_markdown_puts_top_after_gates_and_unchecked_rules_and_end_last(
    passing_report: Report,
) -> None:
    plain = markdown.render(passing_report.summary).split("\n")
    text = markdown.render(passing_report.summary, [END, TOP]).split("\n")
    at = plain.index("## Accounting") - 1  # the top sections go before the detail
    assert plain.index("## Gates") < at
    assert text[:at] == plain[:at]
    assert text[at : at + 2] == ["", "## Top"]
    assert text[-3:] == ["", "## End", ""]
    assert text[:at] + text[at + 2 : -3] + text[-1:] == plain  # nothing else moved


def test_html_puts_top_after_the_gates_and_end_before_the_body_closes(
    passing_report: Report,
) -> None:
    page = html.render(passing_report.summary, passing_report.plots, [END, TOP])
    gates = page.index("<h2 id=gates>Gates</h2>")
    assert page.index("</header>") < gates < page.index("<h2>Top</h2>")
    assert page.index("<h2>Top</h2>") < page.index("<h2>Accounting</h2>")
    assert page.index("<h2>End</h2>") > page.index("<h2>Top</h2>")
    assert page.rstrip().endswith("<h2>End</h2>\n</body></html>")
