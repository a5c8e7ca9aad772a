"""reports.render.common: cell formatting shared by Markdown and HTML."""

from __future__ import annotations

from reports.render.common import (
    fmt,
    fmt_ratio,
    gate_label,
    producers_line,
    run_line,
)


def test_fmt() -> None:
    assert fmt(None) == "-"
    assert fmt(True) == "true"
    assert fmt(1234567) == "1,234,567"
    assert fmt(2.5) == "2.5"
    assert fmt(3.0) == "3"
    assert fmt(0.1234567) == "0.123"
    assert fmt("PCMU") == "PCMU"


def test_fmt_ratio() -> None:
    assert fmt_ratio(0.03) == "3 %"
    assert fmt_ratio(0.0005) == "0.05 %"
    assert fmt_ratio(None) == "-"
    assert fmt_ratio(False) == "-"


def test_gate_label() -> None:
    assert gate_label({"name": "loss", "filter": "codec=PCMU"}) == "loss [codec=PCMU]"
    assert gate_label({"name": "accounting", "filter": None}) == "accounting"


def test_run_line() -> None:
    summary = {
        "run": {"run_id": "r1", "duration_s": 12.5, "producers": {"receiver": 2}}
    }
    assert run_line(summary) == "run r1 · records span 12.5 s"
    assert run_line({}) == "run (no id) · records span - s"
    assert producers_line(summary) == "Records written by 2 receivers."
    assert producers_line({}) == "Records written by no process."


def test_audio_cell_and_harness_line() -> None:
    from reports.render.common import audio_cell, harness_line

    assert audio_cell(None) == "-"
    ok = {"verdict": "ok", "frames_checked": 3, "snr_db": {"p50": 38.9}}
    assert audio_cell(ok) == "ok 38.9 dB"
    bad = {
        "verdict": "wrong-signal",
        "frames_checked": 4,
        "below_floor": 4,
        "snr_db": {"p50": -3.2},
        "diagnosis": {"PCMA": 4},
    }
    assert audio_cell(bad) == "wrong-signal -3.2 dB, 4 of 4 low (looks like PCMA)"
    kept = {
        "measured": True,
        "saturated": False,
        "producers": {"r": {"loop_cpu": {"p90": 0.42}, "lag_ms": {"p99": 0.8}}},
        "pacing_ms": {"p99": 1.1},
    }
    assert harness_line(kept) == (
        "Harness kept up, busiest loop CPU p90 42%, loop lag p99 0.8 ms, "
        "platform pacing p99 1.1 ms."
    )
