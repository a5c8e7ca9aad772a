"""The pandas shell: turn a run directory's records into reports.

``python -m reports RUN_DIR`` writes ``summary.json``, ``report.md``,
``report.html`` and ``junit.xml`` into the run directory. The pure steps are
:func:`reports.load.load_run` (I/O), :func:`reports.summary.build_report`
(DataFrames -> summary dict) and the renderers in :mod:`reports.render`.
"""

from __future__ import annotations


__all__: list[str] = []
