"""``python -m reports.judge RUN_DIR``: judge each capacity level as soon as it ends.

The runner starts this beside Locust when a capacity search stops at the knee
or searches adaptively (:mod:`harness.core.knee`). The load shape writes each
level to ``shape.json`` when it ends and then holds its users; ``settle``
seconds later (the producers flush every second) this process cuts the
level's window from the records flushed so far, the same window the report
cuts (:func:`reports.capacity.window`), applies the profile's gates that can
be judged live (:data:`harness.core.knee.LIVE_METRICS`) and appends the verdict to
``capacity-live.json``, which the shape reads to choose the next level or
stop. It reads only the per-frame parts written since the level started, so
each verdict costs about one level's records, whatever the run's length. It
prints one JSON ready line and runs until SIGTERM.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import signal
import sys
import time
import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from harness.core.exits import EXIT_PASS
from harness.core.knee import judged_live
from harness.core.lines import READY
from harness.core.profiles.profile import Profile
from harness.io import lifeline
from harness.io.lines import emit
from harness.io.profile_file import load_profile
from reports.capacity import shape_start_ns, window
from reports.gates import Threshold, conformance_gate
from reports.load import Parts, Run, load_run
from reports.summary import build_report


__all__ = ["LIVE_FILE", "judge_level", "main"]

LIVE_FILE: Final = "capacity-live.json"
_POLL_S: Final = 0.25
_PART_SLACK_S: Final = 2.0
"""Parts written this long before a level started may still hold its rows."""

Json = dict[str, Any]


def _read(path: Path) -> Json | None:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def _recent(parts: Parts, since_wall: float) -> Parts:
    """Only the parts written since ``since_wall`` (a level's rows are in no older one)."""
    keep = []
    for path in parts.paths:
        try:
            if path.stat().st_mtime >= since_wall:
                keep.append(path)
        except OSError:
            continue
    return dataclasses.replace(parts, paths=tuple(keep))


def judge_level(
    run: Run, profile: Profile, start_ns: int, end_ns: int
) -> tuple[str, list[Json], list[str]]:
    """(verdict, failed gates, gates judged) of the level ``[start_ns, end_ns)``.

    The verdict is ``no-data`` when no start request was sent in the level.
    """
    part = window(run, start_ns, end_ns)
    if not int((part.requests["kind"] == "start").sum()):
        return "no-data", [], []
    thresholds = [Threshold.from_spec(g.as_json()) for g in profile.gates()]
    summary = build_report(part, thresholds).summary
    gates = list(summary["thresholds"])
    if profile.conformance.gate:
        gates.insert(0, conformance_gate(summary, profile.conformance.allow))
    live = [g for g in gates if judged_live(str(g["name"]))]
    failed = [
        {k: g.get(k) for k in ("name", "op", "limit", "value", "message")}
        for g in live
        if g["result"] == "fail"
    ]
    return ("fail" if failed else "pass"), failed, sorted({g["name"] for g in live})


def _write(path: Path, doc: Mapping[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _loop(run_dir: Path, profile: Profile, stop: list[bool]) -> None:
    verdicts: list[Json] = []
    settle_ns = int(profile.capacity.settle_s * 1e9)
    while not stop[0]:
        shape = _read(run_dir / "shape.json")
        levels = (shape or {}).get("levels", [])
        index = len(verdicts)
        if shape is None or "search" not in shape or index >= len(levels):
            time.sleep(_POLL_S)
            continue
        level = levels[index]
        start = int(shape["start_ns"])
        a = start + int(float(level["from_s"]) * 1e9)
        b = start + int(float(level["to_s"]) * 1e9)
        now = time.monotonic_ns()
        if now < b + settle_ns:
            time.sleep(min(_POLL_S, (b + settle_ns - now) / 1e9))
            continue
        since_wall = time.time() - (now - a) / 1e9 - _PART_SLACK_S
        error = ""
        try:
            run = load_run(run_dir)
            run = dataclasses.replace(
                run,
                frames=_recent(run.frames, since_wall),
                sent_frames=_recent(run.sent_frames, since_wall),
                audio=dataclasses.replace(run.audio, paths=()),  # judged at the end
            )
            shift = shape_start_ns(shape, run.clock) - start  # 0 on one host
            result, failed, judged = judge_level(run, profile, a + shift, b + shift)
        except Exception as exc:  # a level not judged must not stop the search
            traceback.print_exc()
            result, failed, judged = "no-data", [], []
            error = f"{type(exc).__name__}: {exc}"
        done = time.monotonic_ns()
        verdicts.append(
            {
                "index": index,
                "users": int(level["users"]),
                "result": result,
                "failed": failed,
                "judged": judged,
                "delay_s": round((done - b) / 1e9, 3),
                **({"error": error} if error else {}),
            }
        )
        _write(run_dir / LIVE_FILE, {"levels": verdicts})


def main(argv: Sequence[str] | None = None) -> int:
    lifeline.arm()  # started by streamload: end with it
    parser = argparse.ArgumentParser(
        prog="python -m reports.judge",
        description="Judge each capacity level as it ends (capacity-live.json).",
    )
    parser.add_argument("run_dir", type=Path, metavar="RUN_DIR")
    args = parser.parse_args(argv)
    run_dir: Path = args.run_dir
    profile = load_profile(str(run_dir / "profile.json"))
    stop = [False]

    def stopping(_sig: int, _frame: object) -> None:
        stop[0] = True

    signal.signal(signal.SIGTERM, stopping)
    signal.signal(signal.SIGINT, stopping)
    emit(READY, run_dir=str(run_dir))
    _loop(run_dir, profile, stop)
    return EXIT_PASS


if __name__ == "__main__":
    sys.exit(main())
