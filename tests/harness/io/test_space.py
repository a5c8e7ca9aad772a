"""harness.io.space: estimate, preflight, the free-space watch and the fallback."""

from __future__ import annotations

import errno
import tempfile
from pathlib import Path

import pytest

from harness.core.errors import ConfigError
from harness.io import space
from harness.io.profile_file import load_profile


def test_the_estimate_grows_with_users_and_duration() -> None:
    smoke = load_profile("smoke")
    nightly = load_profile("nightly")
    assert (
        space.FIXED_BYTES < space.estimate_bytes(smoke) < space.estimate_bytes(nightly)
    )
    load = smoke.load
    frames = load.users * load.duration_s * 50 * 2
    assert space.estimate_bytes(smoke) == int(frames * 24 * 2) + space.FIXED_BYTES


def test_preflight_refuses_too_little_space_naming_the_fix(tmp_path: Path) -> None:
    free = space.free_bytes(tmp_path)
    assert free is not None
    with pytest.raises(ConfigError) as caught:
        space.preflight(tmp_path, free * 4)  # robust to others writing meanwhile
    assert caught.value.field == "--out" and "free some space" in str(caught.value)
    assert "tight" in (space.preflight(tmp_path, free) or "")
    assert space.preflight(tmp_path, 1) is None


def test_the_watch_notes_when_the_disk_fills_and_when_it_frees(tmp_path: Path) -> None:
    watch = space.DiskWatch(tmp_path, every_s=1.0, low_water=1 << 62)  # "full"
    watch.poll(5)
    watch.poll(6)  # not due: no second probe
    assert len(watch.faults) == 1 and watch.faults[0]["mono_ns"] == 5
    watch.low_water = 0  # space back
    watch.poll(2_000_000_000)
    assert watch.faults[0]["until_mono_ns"] == 2_000_000_000
    watch.low_water = 1 << 62
    watch.poll(2_000_000_001, force=True)
    assert len(watch.faults) == 2


def test_write_text_falls_back_to_tmpdir_on_a_full_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_dir = tmp_path / "run-1"
    run_dir.mkdir()
    assert space.write_text(run_dir / "a.json", "{}") == run_dir / "a.json"
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp_path / "elsewhere"))
    monkeypatch.setattr(tempfile, "tempdir", None)
    real = Path.write_text

    def full(self: Path, *args: object, **kwargs: object) -> int:
        if self.parent == run_dir:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "write_text", full)
    where = space.write_text(run_dir / "summary.json", "{}")
    assert where == tmp_path / "elsewhere" / "streamload-run-1" / "summary.json"
    assert where.read_text() == "{}"
    assert not list(run_dir.glob(".*tmp"))
