"""The one seam between a report section and the renderers.

The summary's own sections (gates, accounting, performance, conformance) are
rendered from ``summary.json`` by each renderer. A section that a profile adds
(the capacity answer, codecs side by side, what failed and when) is built by
its own module, which knows how to show its data; it hands every renderer a
:class:`Section` and the renderer decides where it goes, so no output is
patched after it is rendered.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Literal


__all__ = ["Placement", "Section", "placed"]

Placement = Literal["top", "end"]
"""``top``: right after the verdict and the run line (the answer the run is
for); ``end``: after the summary's own sections, in the order given."""


@dataclasses.dataclass(frozen=True)
class Section:
    """One added section, in every format that shows it.

    ``key`` names the ``summary.json`` key that holds the section's data (the
    JSON renderer writes the summary as it is, so the data is there once);
    ``markdown`` is its lines of ``report.md`` and ``html`` its fragment of
    ``report.html``, each already escaped for its format. Gates the section
    adds are in the summary's ``thresholds``, which ``junit.xml`` reports.
    """

    key: str
    markdown: Sequence[str]
    html: str
    placement: Placement = "end"


def placed(sections: Sequence[Section], placement: Placement) -> list[Section]:
    """The sections that go at ``placement``, in their given order."""
    return [s for s in sections if s.placement == placement]
