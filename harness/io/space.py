"""Disk space for a run's records: checked before it starts, watched while it runs,
and a place with room for the report when the run directory has none.

A full disk must never turn the harness's trouble into the platform's (lost
rows read as lost frames) or cost the report. So:

* :func:`estimate_bytes` says how much a run will record, from its profile;
  :func:`preflight` refuses a run directory with clearly too little free space
  (the CLI exits 2 with the fix) and warns when it is tight.
* :class:`DiskWatch` probes the free space every few seconds during the run
  and notes when it ran out and when it came back (``run.json``'s
  ``record_faults``: the report then marks the records incomplete).
* :func:`write_text` writes a file, or, when the disk is full, the same file
  under :func:`fallback_dir` (``$TMPDIR/streamload-<run>``), and returns where.
"""

from __future__ import annotations

import dataclasses
import errno
import os
import shutil
import tempfile
from pathlib import Path

from harness.core.errors import ConfigError
from harness.core.profiles.profile import Profile


__all__ = [
    "FRAME_ROW_BYTES",
    "LOW_WATER_BYTES",
    "DiskWatch",
    "estimate_bytes",
    "fallback_dir",
    "free_bytes",
    "preflight",
    "write_text",
]

FRAME_ROW_BYTES = 24
"""Bytes on disk per recorded frame, in the receiver's ``frames`` and again in
the platform's ``sent_frames`` (zstd Parquet, measured over a 4M-frame
reference-platform run: 22-23 bytes per row; small runs are dominated by
:data:`FIXED_BYTES`)."""
FIXED_BYTES = 2 * 1024 * 1024
"""Everything else a run writes whatever its length: TLS files, logs, the
report, the small tables."""
FRAMES_PER_S = 50
"""One frame every 20 ms per track."""
LOW_WATER_BYTES = 256 * 1024
"""Free space below which the watch calls the run directory full: a Parquet
part of a second of frames does not fit in less."""
FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EROFS})


def estimate_bytes(profile: Profile) -> int:
    """Bytes a run of ``profile`` will record, an upper estimate.

    Concurrent streams (closed model: ``users``; open model: ``rate`` times the
    longest hold) x ``duration`` x 50 frames/s x 2 tracks x
    :data:`FRAME_ROW_BYTES` x 2 (the receiver's frames and the platform's
    send log), plus :data:`FIXED_BYTES`.
    """
    load = profile.load
    if load.model == "open":
        streams = max(1.0, load.rate * max(load.hold_s))
    else:
        streams = float(max(1, load.users))
    frames = streams * load.duration_s * FRAMES_PER_S * 2
    return int(frames * FRAME_ROW_BYTES * 2) + FIXED_BYTES


def free_bytes(path: Path) -> int | None:
    """Free bytes for an unprivileged writer at ``path`` (``None``: cannot tell)."""
    try:
        return shutil.disk_usage(path).free
    except OSError:
        return None


def preflight(run_dir: Path, expected: int) -> str | None:
    """Refuse a run directory that clearly cannot hold the run; a warning if tight.

    ``expected`` is an upper estimate (:func:`estimate_bytes`: every user
    streaming both tracks all the time), so "clearly" is less than half of it;
    less than 1.5 times it is tight. Returns the warning text, or ``None``.

    Raises:
        ConfigError: less free space than half the run's expected records.
    """
    free = free_bytes(run_dir)
    if free is None:
        return None
    if free < expected // 2:
        raise ConfigError(
            "--out",
            f"{run_dir} has {_mb(free)} free; this run records about {_mb(expected)}",
            "free some space, give --out a directory on a larger disk, or shorten "
            "the run (fewer users or a shorter duration)",
        )
    if free < expected * 3 // 2:
        return (
            f"{run_dir} has {_mb(free)} free, the run records about {_mb(expected)}: "
            "tight; the report marks the records incomplete if it runs out"
        )
    return None


@dataclasses.dataclass
class DiskWatch:
    """Free space in the run directory, probed every ``every_s`` seconds.

    :meth:`poll` takes the monotonic time (ns) and returns a fault to note when
    the space ran out (``until_mono_ns`` filled in when it came back).
    """

    run_dir: Path
    every_s: float = 2.0
    low_water: int = LOW_WATER_BYTES
    full_since_ns: int = 0
    faults: list[dict[str, object]] = dataclasses.field(default_factory=list)
    _next_ns: int = 0

    def poll(self, now_ns: int, *, force: bool = False) -> None:
        """Probe if due (or ``force``); note a fault when the disk fills, close it
        when it frees."""
        if now_ns < self._next_ns and not force:
            return
        self._next_ns = now_ns + int(self.every_s * 1e9)
        free = free_bytes(self.run_dir)
        if free is None:
            return
        if free < self.low_water and not self.full_since_ns:
            self.full_since_ns = now_ns
            self.faults.append(
                {
                    "producer": "run directory",
                    "what": f"disk full ({_mb(free)} free in {self.run_dir}): "
                    "record writes fail from here",
                    "mono_ns": now_ns,
                    "until_mono_ns": None,
                }
            )
        elif free >= self.low_water and self.full_since_ns:
            self.full_since_ns = 0
            self.faults[-1]["until_mono_ns"] = now_ns
            self.faults[-1]["what"] = f"{self.faults[-1]['what']} (space back later)"


def fallback_dir(run_dir: Path) -> Path:
    """Where a run's outputs go when its directory is full: ``$TMPDIR/streamload-<run>``."""
    return Path(tempfile.gettempdir()) / f"streamload-{Path(run_dir).resolve().name}"


def write_text(path: Path, text: str) -> Path:
    """Write ``path`` atomically; on a full disk, the same name in :func:`fallback_dir`.

    Returns where it was written.

    Raises:
        OSError: neither place could take it, or another error than a full disk.
    """
    try:
        _replace(path, text)
        return path
    except OSError as exc:
        if exc.errno not in FULL_ERRNOS:
            raise
    other = fallback_dir(path.parent) / path.name
    other.parent.mkdir(parents=True, exist_ok=True)
    _replace(other, text)
    return other


def _replace(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)
        raise


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"
