"""Formatting shared by the human-readable renderers (Markdown and HTML)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final


__all__ = [
    "CODEC_COLUMNS",
    "audio_cell",
    "codec_row",
    "duration_text",
    "failing_rules",
    "fmt",
    "fmt_ratio",
    "gate_label",
    "gates_line",
    "harness_line",
    "headline_notes",
    "load_text",
    "meta_items",
    "not_checked_line",
    "producers_line",
    "profile_text",
    "record_line",
    "run_line",
    "sorted_gates",
    "started_text",
]

CODEC_COLUMNS: Final = (
    "codec",
    "streams",
    "frames",
    "sent",
    "loss",
    "dups",
    "latency p50 / p99 ms",
    "jitter p99 ms (warm-up frames)",
    "interarrival p99 ms",
    "setup p50 / p99 ms",
    "frames/s",
    "lateness p99 ms",
    "audio (SNR p50)",
)


def fmt(value: object) -> str:
    """A number for a table cell; ``-`` for missing."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:,.3f}".rstrip("0").rstrip(".")
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def fmt_ratio(value: object) -> str:
    """A ratio as a percentage with enough digits for a 0.1 % gate."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return "-"
    return f"{value * 100:.3f}".rstrip("0").rstrip(".") + " %"


def _pair(dist: Mapping[str, Any], a: str, b: str) -> str:
    return f"{fmt(dist.get(a))} / {fmt(dist.get(b))}"


def codec_row(codec: str, entry: Mapping[str, Any]) -> list[str]:
    """One row of the per-codec table, in :data:`CODEC_COLUMNS` order."""
    return [
        codec,
        fmt(entry.get("streams")),
        fmt(entry.get("frames")),
        fmt(entry.get("frames_sent")),
        fmt_ratio(entry.get("loss_ratio")),
        fmt(entry.get("duplicates")),
        _pair(entry.get("latency_ms", {}), "p50", "p99"),
        _jitter(entry.get("jitter_ms", {})),
        fmt(entry.get("interarrival_ms", {}).get("p99")),
        _pair(entry.get("setup_ms", {}), "p50", "p99"),
        fmt(entry.get("throughput", {}).get("frames_per_s")),
        fmt(entry.get("lateness_ms", {}).get("p99")),
        audio_cell(entry.get("audio")),
    ]


def _jitter(dist: Mapping[str, Any]) -> str:
    """``p99 (frames of the estimator's warm-up, left out of it)``."""
    warmup = dist.get("warmup_frames")
    return fmt(dist.get("p99")) + ("" if warmup is None else f" ({fmt(warmup)})")


def audio_cell(audio: Mapping[str, Any] | None) -> str:
    """``ok 38.9 dB``, or the verdict, the SNR and the likeliest reading of bad frames."""
    if not audio or not audio.get("frames_checked"):
        return "-"
    text = f"{audio['verdict']} {fmt(audio['snr_db']['p50'])} dB"
    if audio["verdict"] != "ok":
        text += f", {fmt(audio['below_floor'])} of {fmt(audio['frames_checked'])} low"
        diagnosis = audio.get("diagnosis") or {}
        if diagnosis:
            text += f" (looks like {next(iter(diagnosis))})"
    return text


def harness_line(harness: Mapping[str, Any] | None) -> str:
    """One sentence: was the harness saturated, and why."""
    if not harness or not harness.get("measured"):
        return "Harness health: not recorded."
    if harness.get("saturated"):
        return (
            "Harness SATURATED (latency figures include its own delay): "
            + "; ".join(harness.get("reasons", []))
        )
    producers = harness.get("producers", {})
    worst_cpu = max(
        (p["loop_cpu"]["p90"] or 0.0 for p in producers.values()), default=None
    )
    worst_lag = max(
        (p["lag_ms"]["p99"] or 0.0 for p in producers.values()), default=None
    )
    parts = ["Harness kept up"]
    if worst_cpu is not None:
        parts.append(f"busiest loop CPU p90 {worst_cpu:.0%}")
    if worst_lag is not None:
        parts.append(f"loop lag p99 {fmt(worst_lag)} ms")
    pacing = harness.get("pacing_ms", {}).get("p99")
    if pacing is not None:
        parts.append(f"platform pacing p99 {fmt(pacing)} ms")
    return ", ".join(parts) + "."


def gate_label(gate: Mapping[str, Any]) -> str:
    """``name`` or ``name [filter]``."""
    return (
        f"{gate['name']} [{gate['filter']}]"
        if gate.get("filter")
        else str(gate["name"])
    )


def failing_rules(summary: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """Failed rules, then warned ones, each in catalog order."""
    results = summary["conformance"]["results"]
    return [
        (rule_id, result)
        for wanted in ("fail", "warn")
        for rule_id, result in results.items()
        if result["verdict"] == wanted
    ]


def run_line(summary: Mapping[str, Any]) -> str:
    """One line naming the run: its id, how long its records span, a cap reached."""
    run = summary.get("run", {})
    parts = [
        f"run {run.get('run_id') or '(no id)'}",
        f"records span {fmt(run.get('duration_s'))} s",
    ]
    budget = run.get("budget") or {}
    if budget.get("reached"):
        cap = budget["reached"]
        limit = (
            f"{budget.get('max_streams')} streams"
            if cap == "max_streams"
            else f"{fmt(budget.get('max_stream_minutes'))} stream minutes"
        )
        parts.append(f"budget reached ({cap}: {limit}): new stream starts stopped")
    return " · ".join(parts)


_PRODUCERS: Final = {
    "scenario": "load generator",
    "receiver": "receiver",
    "platform": "reference platform",
    "callback": "status-callback sink",
    "negative": "negative suite",
}
"""What each kind of record producer is, in a user's words."""


def producers_line(summary: Mapping[str, Any]) -> str:
    """Which processes wrote the records: ``2 receivers, 1 load generator``."""
    kinds = summary.get("run", {}).get("producers", {})
    known = list(_PRODUCERS)
    parts = []
    for kind, count in sorted(
        kinds.items(), key=lambda kv: known.index(kv[0]) if kv[0] in known else 99
    ):
        noun = _PRODUCERS.get(kind, kind)
        parts.append(f"{count} {noun}" + ("s" if count != 1 else ""))
    return "Records written by " + (", ".join(parts) or "no process") + "."


def duration_text(seconds: object) -> str:
    """``45 s``, ``10 min``, ``1 h 30 min``: a duration as a person says it."""
    if not isinstance(seconds, int | float) or isinstance(seconds, bool):
        return "-"
    if seconds < 120:
        return f"{fmt(round(float(seconds), 1))} s"
    minutes = round(seconds / 60)
    if minutes < 120:
        return f"{minutes} min"
    hours, rest = divmod(minutes, 60)
    return f"{hours} h" + (f" {rest} min" if rest else "")


def load_text(load: Mapping[str, Any] | None) -> str:
    """The load the profile asked for: model, users or rate, shape, duration."""
    if not load:
        return "not recorded"
    users = load.get("users")
    if load.get("model") == "open":
        text = (
            f"open model: {fmt(load.get('rate'))} stream starts/s, "
            f"at most {fmt(users)} in flight"
        )
    else:
        text = f"{fmt(users)} users (closed model)"
    shape = load.get("shape")
    if shape == "step":
        text += (
            f", stepped from {fmt(load.get('start'))} by {fmt(load.get('step'))} "
            f"every {duration_text(load.get('every_s'))}"
        )
    elif shape in ("ramp", "soak"):
        text += (
            f", {shape}: from {fmt(load.get('start'))} over "
            f"{duration_text(load.get('ramp_s'))}"
        )
    elif shape == "spike":
        text += (
            f", spike from {fmt(load.get('base'))} at "
            f"{duration_text(load.get('at_s'))} for {duration_text(load.get('length_s'))}"
        )
    return text + f", {duration_text(load.get('duration_s'))}"


def profile_text(summary: Mapping[str, Any]) -> str:
    """``smoke (smoke (built-in))``, and the profile that judged it if another."""
    profile = summary.get("profile") or {}
    name, source = profile.get("name"), profile.get("source")
    text = str(name or "not recorded")
    if source and str(source).startswith(f"{name} "):
        text = str(source)  # ``smoke (built-in)``
    elif source and source != name:
        text += f" ({source})"
    judge = profile.get("judged_by")
    if judge:
        text += f"; gates of {judge.get('name')} ({judge.get('source')})"
    return text


def started_text(started: object) -> str:
    """``2026-12-02 22:25:24 UTC`` from ISO 8601, or ``not recorded``."""
    if not isinstance(started, str) or not started:
        return "not recorded"
    return started.replace("T", " ").removesuffix("Z") + (
        " UTC" if started.endswith("Z") else ""
    )


def meta_items(summary: Mapping[str, Any]) -> list[tuple[str, str]]:
    """What ran, as (label, text) pairs for the report's header."""
    commit = summary.get("git_commit")
    version = summary.get("version") or "unknown"
    items = [
        ("Profile", profile_text(summary)),
        ("Target", str(summary.get("target") or "not recorded")),
        ("Load", load_text(summary.get("load"))),
        ("Started", started_text(summary.get("started_at"))),
        (
            "streamload",
            f"{version}, commit {str(commit)[:12]}" if commit else str(version),
        ),
    ]
    tags = summary.get("tags") or {}
    if tags:
        items.append(("Tags", ", ".join(f"{k}={v}" for k, v in tags.items())))
    return items


_ORDER: Final = {"fail": 0, "void": 1, "no-data": 2, "pass": 3}


def sorted_gates(gates: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Failed gates first, then void and no-data, then passed; stable within each."""
    return sorted(gates, key=lambda g: _ORDER.get(str(g.get("result")), 2))


def gates_line(gates: Sequence[Mapping[str, Any]]) -> str:
    """``25 gates, 5 failed`` (and how many had no data or were void)."""
    count = len(gates)
    text = f"{count} gate{'' if count == 1 else 's'}, "
    text += f"{sum(g.get('result') == 'fail' for g in gates)} failed"
    for result, words in (("no-data", "without data"), ("void", "void")):
        n = sum(g.get("result") == result for g in gates)
        if n:
            text += f", {n} {words}"
    return text


def headline_notes(summary: Mapping[str, Any]) -> list[str]:
    """What qualifies the gates, after ``N gates, M failed`` on the first line:
    rules not checked, a harness that could not keep up."""
    notes = [line] if (line := not_checked_line(summary)) else []
    harness = (summary.get("performance") or {}).get("harness") or {}
    if harness.get("saturated"):
        notes.append("harness saturated: timings include its own delay")
    return notes


def not_checked_line(summary: Mapping[str, Any]) -> str | None:
    """``2 of 54 rules not checked`` or ``None`` when every rule was checked."""
    conf = summary.get("conformance") or {}
    entries = conf.get("not_checked_rules") or []
    if not entries:
        return None
    return f"{len(entries)} of {conf.get('rules')} rules not checked"


def record_line(summary: Mapping[str, Any]) -> str | None:
    """Under the headline of an ``incomplete`` run: which producer lost what, when,
    and that no gate blamed the platform for it (``None``: records complete)."""
    health = summary.get("record_health") or {}
    if health.get("complete", True):
        return None
    return (
        f"{health.get('message', 'records incomplete')}. Gates other than "
        "conformance are void: nothing here is judged as the platform's loss."
    )
