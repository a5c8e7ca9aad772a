"""Whether the harness recorded everything, and what follows when it did not.

The harness's trouble is the harness's: a record write that failed (disk full,
I/O error), rows a producer dropped because its writer fell behind, a receiver
or the reference platform that died, a run directory that ran out of space.
Each makes the records incomplete, and a frame the harness did not record
would otherwise count as a frame the platform lost. So the report collects
every such fault, from the producers' manifests (``RUN_DIR/producers/*.json``,
:class:`harness.core.record_loss.RecordLoss`) and the run's ``run.json``
(``record_faults``: services that died, the disk-space watch, the counts in
the services' last stats lines), and when there is any:

* the verdict is ``incomplete`` (exit 3, like any harness failure);
* every gate but conformance is ``void``: computed, shown, never judged (a
  recorded violation is a fact; lost records can only hide more of them);
* the accounting says its unaccounted streams are not the platform's to answer.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from harness.core.clocks import ClockPlan


__all__ = ["VERDICT", "apply", "collect"]

VERDICT: Final = "incomplete"
"""The verdict of a run whose records the harness knows are incomplete."""
_KEPT: Final = frozenset({"conformance", "coverage"})
"""Gates that still judge on incomplete records (what they found is real)."""

Json = dict[str, Any]


def collect(
    run_dir: Path,
    run_json: Mapping[str, Any] | None,
    start_ns: int | None,
    clock: ClockPlan | None = None,
) -> Json:
    """Every record fault, per producer, with when: seconds from the run's first
    request (``start_ns``), else from the CLI's start (``run.json``'s events).

    With records of several hosts, ``start_ns`` is on the wall clock
    (:mod:`harness.core.clocks`): a producer's own times are then its manifest's
    wall times, and the CLI's (monotonic only) are left without a when.
    """
    faults: dict[str, Json] = {}
    wall = clock is not None and clock.aligned
    if start_ns is None and not wall:  # no request recorded: the CLI's own start
        start_ns = _cli_start_ns(run_json)

    def entry(producer: str) -> Json:
        return faults.setdefault(
            producer,
            {
                "producer": producer,
                "problems": [],
                "rows_failed": 0,
                "rows_dropped": 0,
                "from_s": None,
                "to_s": None,
            },
        )

    def when(item: Json, first: object, last: object) -> None:
        for key, value, pick in (("from_s", first, min), ("to_s", last, max)):
            if isinstance(value, int) and value > 0 and start_ns is not None:
                at = round((value - start_ns) / 1e9, 3)
                item[key] = at if item[key] is None else pick(item[key], at)

    for path in sorted((run_dir / "producers").glob("*.json")):
        doc = _read(path)
        if doc is None or doc.get("complete", True):
            continue
        item = entry(str(doc.get("producer") or path.stem))
        failed = _total(doc.get("rows_failed"))
        dropped = _total(doc.get("rows_dropped"))
        item["rows_failed"] += failed
        item["rows_dropped"] += dropped
        if failed or doc.get("write_errors"):
            error = str(doc.get("last_error") or "")
            item["problems"].append(
                f"{failed:,} rows in {int(doc.get('write_errors') or 0)} failed "
                f"write(s)" + (f" ({error})" if error else "")
            )
        if dropped:
            item["problems"].append(
                f"{dropped:,} rows dropped: its record writer fell behind"
            )
        clock_of = "wall" if wall else "mono"
        when(item, doc.get(f"first_{clock_of}_ns"), doc.get(f"last_{clock_of}_ns"))
    for fault in (run_json or {}).get("record_faults", []) or []:
        if not isinstance(fault, Mapping):
            continue
        item = entry(str(fault.get("producer") or "harness"))
        what = str(fault.get("what") or "")
        if what and what not in item["problems"]:
            item["problems"].append(what)
        if not wall:
            when(
                item,
                fault.get("mono_ns"),
                fault.get("until_mono_ns") or fault.get("mono_ns"),
            )
    producers = sorted(faults.values(), key=lambda f: f["producer"])
    return {
        "complete": not producers,
        "producers": producers,
        "message": _message(producers),
    }


def apply(summary: Json, health: Json) -> None:
    """Void the gates and set the verdict when the records are incomplete."""
    summary["record_health"] = health
    if health["complete"]:
        return
    reason = health["message"]
    for gate in summary["thresholds"]:
        if gate["name"] in _KEPT or gate["result"] not in ("pass", "fail"):
            continue
        gate["result"] = "void"
        gate["message"] = f"{gate['message']}; void: {reason}"
    accounting = summary["accounting"]
    accounting["void"] = (
        f"{reason}: unaccounted streams and lost frames may be the harness's, "
        "not the platform's"
    )
    summary["verdict"] = VERDICT


def _message(producers: list[Json]) -> str:
    if not producers:
        return ""
    parts = []
    for item in producers:
        at = f" at {item['from_s']:g} s" if item["from_s"] is not None else ""
        parts.append(f"{item['producer']}{at}: {'; '.join(item['problems'])}")
    return "records incomplete (the harness's loss, not the platform's): " + " | ".join(
        parts
    )


def _total(counts: object) -> int:
    if isinstance(counts, Mapping):
        return sum(v for v in counts.values() if isinstance(v, int))
    return counts if isinstance(counts, int) else 0


def _read(path: Path) -> Json | None:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def _cli_start_ns(run_json: Mapping[str, Any] | None) -> int | None:
    """The CLI's start on the monotonic clock, from an event's ``mono_ns`` and ``at_s``."""
    for event in (run_json or {}).get("events", []) or []:
        if isinstance(event, Mapping):
            mono, at = event.get("mono_ns"), event.get("at_s")
            if isinstance(mono, int) and isinstance(at, int | float):
                return mono - int(at * 1e9)
    return None
