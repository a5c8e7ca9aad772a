"""``streamload capacity`` stops at the knee a test sets up: a platform that takes 5 streams."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.io.tls import TlsFiles
from harness.run.processes import Child
from tests.conftest import seconds
from tests.e2e.runs import streamload, summary


pytestmark = pytest.mark.e2e

PROJECT = str(uuid.uuid4())
TOKEN = "capacity-api-token-Hx7Rw2"
KNEE = """
extends = "capacity"
[load]
users = 12
spawn_rate = 12
duration = "20s"
hold = "0.8-1"
wait = "0"
[shape]
start = 3
step = 1
every = "2s"
[capacity]
require = 2
settle = "1s"
search = "{search}"
[matrix]
bearer_token = [true]
[conformance]
negative = false
[thresholds]
"jitter_ms.p99" = "off"
"harness.saturated" = "off"  # this test shares a busy 2-core machine
"setup_ms.p99" = "<= 3000"
"""


@pytest.fixture(scope="module")
def limited_target(
    tmp_path_factory: pytest.TempPathFactory, tls_files: TlsFiles
) -> Iterator[str]:
    """A reference platform behind a proxy that refuses a 6th concurrent stream."""
    tmp_path = tmp_path_factory.mktemp("knee")
    platform = Child(
        "target",
        [
            "-m", "harness.platform", "--cert-file", str(tls_files.cert_file),
            "--key-file", str(tls_files.key_file), "--run-dir", str(tmp_path / "target"),
            "--account-sid", PROJECT, "--max-duration", "300",
        ],
        log_dir=tmp_path / "logs",
        env={"SIGNALWIRE_API_TOKEN": TOKEN},
    )  # fmt: skip
    try:
        upstream = str(platform.wait_ready(seconds(60))["url"])
        proxy = Child(
            "knee",
            ["-m", "tests.e2e.knee", "--upstream", upstream,
             "--ca-file", str(tls_files.ca_file), "--limit", "5"],
            log_dir=tmp_path / "logs",
        )  # fmt: skip
        try:
            yield str(proxy.wait_ready(seconds(60))["url"])
        finally:
            proxy.stop(seconds(10))
    finally:
        platform.stop(seconds(20))


def search(target: str, tmp_path: Path, kind: str) -> tuple[Path, dict[str, Any]]:
    """``streamload capacity`` against the limited target; its run directory and
    the summary's capacity section."""
    profile = tmp_path / f"{kind}.toml"
    profile.write_text(KNEE.format(search=kind))
    out = tmp_path / kind
    proc = streamload(
        *("capacity", "--profile", str(profile), "--target", target),
        *("--out", str(out), "--quiet"),
        env={"SIGNALWIRE_PROJECT_ID": PROJECT, "SIGNALWIRE_API_TOKEN": TOKEN},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out, summary(out)["capacity"]


def test_the_step_search_stops_one_level_past_the_knee(
    limited_target: str, tmp_path: Path
) -> None:
    out, result = search(limited_target, tmp_path, "steps")
    assert (result["held"], result["broke_at"]) == (5, 6), result
    assert "requests.error_ratio" in result["broken_gates"]
    levels = [(lv["users"], lv["result"]) for lv in result["levels"]]
    # 6 broke, 7 confirmed it, and no level started after: the ceiling was 12
    assert levels == [(3, "pass"), (4, "pass"), (5, "pass"), (6, "fail"), (7, "fail")]
    assert [lv["live"] for lv in result["levels"]] == [r for _, r in levels]
    assert result["stopped"] == "knee"
    (gate,) = summary(out)["thresholds"]
    assert (gate["name"], gate["value"], gate["result"]) == ("capacity", 5, "pass")
    text = (out / "report.md").read_text()
    # the answer: after the verdict, what ran and the gate; before the detail
    assert text.index("## Gates") < text.index("## Capacity")
    assert text.index("## Capacity") < text.index("## Accounting")
    assert "**5 concurrent users held every gate.**" in text
    assert "At 6 users these broke: " in text
    assert "<svg" in (out / "report.html").read_text()


def test_the_adaptive_search_finds_the_same_knee_in_fewer_levels(
    limited_target: str, tmp_path: Path
) -> None:
    _, result = search(limited_target, tmp_path, "adaptive")
    assert (result["held"], result["broke_at"]) == (5, 6), result
    levels = [(lv["users"], lv["result"]) for lv in result["levels"]]
    # 3 held, 6 broke, then the bisection: 4 and 5 held
    assert levels == [(3, "pass"), (6, "fail"), (4, "pass"), (5, "pass")]
    assert len(levels) < 5  # the step search above needs 5
