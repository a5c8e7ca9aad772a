"""reports.judge: a level's live verdict, on the gates the flushed records can show."""

from __future__ import annotations

from pathlib import Path

from harness.io.profile_file import load_profile
from reports.capacity import window
from reports.gates import Threshold
from reports.judge import judge_level
from reports.load import load_run
from reports.summary import build_report
from tests.reports.helpers import MS, T0, RunBuilder


SECOND = 1_000 * MS
PROFILE = """
extends = "none"
[load]
users = 4
[thresholds]
"requests.error_ratio" = "<= 0.01"
"loss_ratio" = "<= 0.001"
[conformance]
gate = false
"""


def test_a_level_is_judged_on_the_gates_that_can_be_judged_live(
    tmp_path: Path,
) -> None:
    build = RunBuilder(tmp_path / "run")
    for n in range(1, 5):
        sent = T0 + n * 100 * MS
        build.request(
            f"req-{n}", sent_ns=sent, done_ns=sent + 5 * MS, stream_sid=f"MZ{n}"
        )
        build.stream(f"MZ{n}", f"req-{n}", start_ns=sent + 20 * MS)
        build.media(f"MZ{n}", chunks=20, first_ns=sent + 50 * MS, missing=(3, 4))
    for n in range(5, 9):  # the second level: half refused
        sent = T0 + 4 * SECOND + n * 100 * MS
        build.request(
            f"req-{n}",
            sent_ns=sent,
            done_ns=sent + 5 * MS,
            status=429 if n % 2 else 200,
            stream_sid="" if n % 2 else f"MZ{n}",
        )
    run = load_run(build.write())
    (tmp_path / "p.toml").write_text(PROFILE)
    profile = load_profile(str(tmp_path / "p.toml"))

    # 10 % of frames lost breaks loss_ratio, but only the report judges loss
    verdict, failed, judged = judge_level(run, profile, T0, T0 + 4 * SECOND)
    assert (verdict, failed) == ("pass", [])
    assert "requests.error_ratio" in judged and "loss_ratio" not in judged
    thresholds = [Threshold.from_spec(g.as_json()) for g in profile.gates()]
    final = build_report(window(run, T0, T0 + 4 * SECOND), thresholds).summary
    assert [g["name"] for g in final["thresholds"] if g["result"] == "fail"] == [
        "loss_ratio"
    ]

    verdict, failed, _ = judge_level(run, profile, T0 + 4 * SECOND, T0 + 8 * SECOND)
    assert verdict == "fail"
    assert [(g["name"], g["value"]) for g in failed] == [("requests.error_ratio", 0.5)]

    assert judge_level(run, profile, T0 + 8 * SECOND, T0 + 9 * SECOND) == (
        "no-data",
        [],
        [],
    )
