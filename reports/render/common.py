"""Formatting shared by the human-readable renderers (Markdown and HTML)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final


__all__ = [
    "CODEC_COLUMNS",
    "audio_cell",
    "codec_row",
    "harness_line",
    "failing_rules",
    "fmt",
    "fmt_ratio",
    "gate_label",
    "record_line",
    "run_line",
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
    """One line naming the run: id, duration, producers."""
    run = summary.get("run", {})
    producers = ", ".join(f"{k} {v}" for k, v in run.get("producers", {}).items())
    parts = [
        f"run {run.get('run_id') or '(no id)'}",
        f"{fmt(run.get('duration_s'))} s",
        f"producers: {producers or 'none'}",
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
