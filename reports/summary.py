"""Assemble the run summary: every section, the gates, and the verdict.

The summary is plain JSON data (str, int, float, bool, None, lists, dicts) so
every renderer, CI script and ``compare`` reads the same thing. Plot series
travel beside it in :class:`Report`, not inside it, to keep ``summary.json``
small whatever the run's length.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

import pandas as pd

from harness.core.errors import ConfigError
from harness.core.profiles.profile import Profile
from harness.io import provenance
from harness.io.profile_file import load_profile
from reports.accounting import account
from reports.conformance import summarise_conformance
from reports.gates import Threshold, evaluate, verdict
from reports.join import joined_checks
from reports.load import Parts, Run
from reports.performance import Performance, Plots, analyse, plot_limits
from reports.rest import summarise_requests


__all__ = ["REFERENCE", "SCHEMA", "Report", "add_run_metadata", "build_report"]

SCHEMA: Final = 1
"""Version of the summary layout; bumped when a key moves or changes meaning."""

Json = dict[str, Any]

REFERENCE: Final = "embedded reference platform"
"""``summary.json``'s ``target`` when the run served its own platform."""
_LINKED: Final = (
    ("locust", "locust.html"),
    ("records", "records"),
    ("logs", "logs"),
)
"""Files of a run directory the report links to, when the run has them."""
_GATE_SOURCES: Final = {
    "conformance": "[conformance] gate",
    "coverage": "[conformance] require",
    "capacity": "[capacity] require",
}
"""Where the gates a profile implies (not declared in ``[thresholds]``) come from."""


@dataclasses.dataclass(frozen=True)
class Report:
    summary: Json
    plots: Plots


def build_report(
    run: Run,
    thresholds: Iterable[Threshold],
    performance: Performance | None = None,
) -> Report:
    """Summarise ``run`` and gate it (``performance``: already analysed, e.g. a
    capacity level's from the one pass over every level)."""
    performance = performance if performance is not None else analyse(run)
    rule_checks, violations = joined_checks(run)  # streams judged by sid, too
    summary: Json = {
        "schema": SCHEMA,
        "verdict": "pass",
        "run": _run_info(run),
        "accounting": account(run),
        "conformance": summarise_conformance(rule_checks, violations),
        "performance": {
            "basis": performance.basis,
            "codecs": performance.codecs,
            "tracks": performance.tracks,
            "requests": summarise_requests(run.requests),
            "harness": performance.harness,
            "receiver_histograms": performance.receiver_histograms,
        },
    }
    gates = evaluate(summary, thresholds)
    summary["thresholds"] = gates
    summary["verdict"] = verdict(gates)
    plots = performance.plots
    limits = {**plots.limits, **plot_limits(gates)}  # the gates drawn on the plots
    return Report(summary=summary, plots=dataclasses.replace(plots, limits=limits))


def _run_info(run: Run) -> Json:
    """Run id, duration and producers; host names stay out of reports."""
    run_ids = _non_empty(run.requests["run_id"]) or _non_empty(run.streams["run_id"])
    producers = run.producers
    hosts = producers["host"][producers["host"] != ""].nunique()
    kinds = producers["kind"].replace("", "unknown").value_counts().sort_index()
    return {
        "run_id": run_ids[0] if run_ids else None,
        "run_ids": run_ids,
        "duration_s": _duration_s(run, single_host=hosts <= 1),
        "producers": {str(k): int(v) for k, v in kinds.items()},
        "hosts": int(hosts),
        "records": run.rows(),
    }


def _non_empty(values: pd.Series[Any]) -> list[str]:
    """Distinct non-empty values, most frequent first."""
    counts = values[values != ""].astype(str).value_counts()
    return [str(v) for v in counts.index]


def _duration_s(run: Run, *, single_host: bool) -> float | None:
    """First to last timestamp; with several hosts, the longest single-table span."""
    columns = (
        (run.requests, ("sent_ns", "done_ns")),
        (run.sent_frames, ("sent_ns",)),
        (run.frames, ("arrival_ns",)),
        (run.streams, ("start_ns", "stop_ns", "closed_ns")),
    )
    spans: list[tuple[int, int]] = []
    for frame, names in columns:
        lows, highs = [], []
        for name in names:
            bounds = _bounds(frame, name)
            if bounds is not None:
                lows.append(bounds[0])
                highs.append(bounds[1])
        if lows:
            spans.append((min(lows), max(highs)))
    if not spans:
        return None
    if single_host:
        return round((max(h for _, h in spans) - min(lo for lo, _ in spans)) / 1e9, 3)
    return round(max(h - lo for lo, h in spans) / 1e9, 3)


def _bounds(table: pd.DataFrame | Parts, column: str) -> tuple[int, int] | None:
    """The least and greatest positive value of ``column``."""
    if isinstance(table, Parts):
        return table.bounds(column)
    present = table[column][table[column] > 0]
    return (int(present.min()), int(present.max())) if len(present) else None


def add_run_metadata(
    summary: Json,
    run_dir: Path,
    run_json: Mapping[str, Any] | None,
    judged_by: Profile | None,
    profile_ref: str | None = None,
) -> None:
    """Put what ran at the top of ``summary``: start, target, profile, load,
    version, commit, tags and the run's linked files; give every gate a source.

    ``run.json`` (written by ``streamload run``) is the record of what ran; a
    run directory without it keeps what the records and ``profile.json`` tell
    (no start time or target: ``None``). ``version`` and ``git_commit`` are the
    run's, or, for a run that did not record them, those of the streamload
    writing this report. ``judged_by`` is the profile whose gates were applied:
    the run's own unless ``profile_ref`` (``streamload report --profile``)
    named another.
    """
    doc = dict(run_json or {})
    ran = judged_by if profile_ref is None else _run_profile(run_dir)
    profile: Json = {
        "name": _text(doc.get("profile")) or (ran.name if ran else None),
        "source": _text(doc.get("profile_source")) or (ran.source if ran else None),
    }
    if profile_ref is not None and judged_by is not None:
        profile["judged_by"] = {"name": judged_by.name, "source": judged_by.source}
    label = profile["source"] or profile["name"] or "default (built-in)"
    for gate in summary.get("thresholds", []):
        if not gate.get("source"):
            where = _GATE_SOURCES.get(str(gate.get("name")), "")
            gate["source"] = f"{label} {where}".strip()
    meta: Json = {
        "started_at": _text(doc.get("started_wall")),
        "target": _target(doc.get("target")),
        "profile": profile,
        "load": _load(ran) if ran else None,
        "version": _text(doc["version"]) if "version" in doc else provenance.version(),
        "git_commit": (
            _text(doc["git_commit"]) if "git_commit" in doc else provenance.git_commit()
        ),
        "tags": _tags(doc.get("tags")),
        "files": {key: name for key, name in _LINKED if (run_dir / name).exists()},
    }
    rest = {k: v for k, v in summary.items() if k not in meta}
    summary.clear()  # the metadata first, for a person reading summary.json
    summary.update(
        {"schema": rest.pop("schema", SCHEMA), "verdict": rest.pop("verdict", None)}
    )
    summary.update(meta)
    summary.update(rest)


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _run_profile(run_dir: Path) -> Profile | None:
    """The profile the run used (``profile.json``), when judged by another."""
    path = run_dir / "profile.json"
    try:
        return load_profile(str(path)) if path.is_file() else None
    except ConfigError:
        return None


def _target(value: object) -> str | None:
    """The platform called: the reference platform, or the URL without userinfo."""
    if value == "reference":
        return REFERENCE
    if not isinstance(value, str) or not value:
        return None
    parts = urlsplit(value)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = host + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _load(profile: Profile) -> Json:
    """The load the run's profile asked for (after its flags)."""
    load = profile.load
    shape = load.shape
    out: Json = {
        "model": load.model,
        "users": load.users,
        "rate": load.rate,
        "spawn_rate": load.spawn_rate,
        "duration_s": load.duration_s,
        "hold_s": list(load.hold_s),
        "shape": shape.kind,
    }
    if shape.kind in ("ramp", "soak"):
        out.update(start=shape.start, ramp_s=shape.ramp_s)
    elif shape.kind == "step":
        out.update(start=shape.start, step=shape.step, every_s=shape.every_s)
    elif shape.kind == "spike":
        out.update(base=shape.base, at_s=shape.at_s, length_s=shape.length_s)
    return out


def _tags(value: object) -> dict[str, str]:
    """``run.json``'s tags, as checked by ``--tag`` (anything else left out)."""
    if not isinstance(value, Mapping):
        return {}
    return {str(k): str(v) for k, v in value.items() if isinstance(v, str)}
