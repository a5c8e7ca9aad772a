"""Cut the per-frame tables into pieces by track, so each piece fits in memory.

Every per-frame computation of :class:`reports.frames.FrameFacts` is per
stream and track (duplicates, loss, the join with the send log, arrival order),
so a piece holds every row of its tracks and nothing else. One pass over the
Parquet parts codes each batch's ``(stream sid, track)`` to a run-wide track
code (both columns are dictionary-encoded, so that is one lookup per distinct
pair, not per row), hands the batch to a visitor for the work that needs one
row at a time, and appends the columns the rest needs (track code, chunk, time)
to one spill file per piece and column: 16 bytes a row when chunks fit 32 bits.
A piece is then read back whole. A run small enough for one piece is never
spilled: its batches are concatenated in memory, as the table would have been
read.
"""

from __future__ import annotations

import collections
import dataclasses
import math
import os
import tempfile
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from reports.load import COLUMNS, Parts
from reports.samples import DEFAULT_BUDGET


__all__ = ["Limits", "Piece", "Pieces"]

FRAME_COLUMNS: Final = COLUMNS["frames"]
"""Columns of ``frames`` the pass reads: every one a report uses."""
LOG_COLUMNS: Final = COLUMNS["sent_frames"]
"""Columns of ``sent_frames`` the pass reads: every one a report uses."""
KEPT: Final = {"frames": "arrival_ns", "sent": "sent_ns"}
"""Besides the track code and chunk, the time a piece keeps of each table."""

_READ_ROWS: Final = 1 << 20
"""Rows per batch of the pass over the parts."""
_INT32: Final = (-(2**31), 2**31 - 1)

Array = npt.NDArray[Any]
Columns = dict[str, Array]
Visitor = Callable[[str, Columns], None]
"""Called with ``"frames"`` or ``"sent"`` and each coded batch, before it is cut."""


@dataclasses.dataclass(frozen=True)
class Limits:
    """How much of a report's per-frame work may sit in memory at once.

    The defaults keep a 60 M-frame run's report step under 2 GB; the
    environment overrides them (``STREAMLOAD_REPORT_PIECE_ROWS``,
    ``STREAMLOAD_REPORT_SAMPLE_BYTES``), which is how tests force many pieces.
    """

    piece_rows: int = 3_000_000
    """Frames plus send-log rows per piece; a run with fewer is one piece."""
    sample_bytes: int = DEFAULT_BUDGET
    """Distribution values held in memory before they spill to sorted runs."""

    @classmethod
    def from_env(cls) -> Limits:
        default = cls()
        return cls(
            piece_rows=_env_int("STREAMLOAD_REPORT_PIECE_ROWS", default.piece_rows),
            sample_bytes=_env_int(
                "STREAMLOAD_REPORT_SAMPLE_BYTES", default.sample_bytes
            ),
        )


def _env_int(name: str, default: int) -> int:
    text = os.environ.get(name, "").strip()
    return max(1, int(text)) if text else default


@dataclasses.dataclass(frozen=True)
class Piece:
    """The rows of some tracks, by table (``frames``, ``sent``) and column.

    Columns: ``track`` (run-wide track codes, int64), ``chunk`` (int64) and
    ``arrival_ns`` (frames) or ``sent_ns`` (send log), in table order.
    """

    frames: Columns
    sent: Columns


class Pieces:
    """``frames`` and ``sent_frames`` coded and cut into pieces by track.

    Args:
        frames: the received frames.
        sent: the platform's send log.
        piece_rows: rows (of both tables) per piece, at most, unless one
            track alone has more.

    :meth:`read` makes the pass; use as a context manager: leaving removes
    the spill files.
    """

    def __init__(self, frames: Parts, sent: Parts, piece_rows: int) -> None:
        self.sids: dict[str, int] = {}
        """Stream sid -> code, in order of first sight."""
        self.track_names: dict[str, int] = {}
        """Track name -> code, in order of first sight."""
        self.tracks: dict[tuple[int, int], int] = {}
        """(sid code, track name code) -> track code, in order of first sight."""
        self.rows = {"frames": 0, "sent": 0}
        self.count = max(
            1, math.ceil((frames.stored_rows + sent.stored_rows) / max(1, piece_rows))
        )
        """How many pieces."""
        self._tables = {"frames": frames, "sent": sent}
        self._chunk = _chunk_type(frames, sent)
        self._dir: tempfile.TemporaryDirectory[str] | None = None
        self._memory: dict[str, list[Columns]] = {"frames": [], "sent": []}
        if self.count > 1:
            self._dir = tempfile.TemporaryDirectory(prefix="streamload-pieces-")

    def read(self, visit: Visitor) -> None:
        """The pass over the parts: code, visit and cut every batch.

        Cutting and writing run on a background thread, one batch behind.
        """
        with ThreadPoolExecutor(1, thread_name_prefix="pieces") as writer:
            pending: collections.deque[Future[None]] = collections.deque()
            for table, columns in (("frames", FRAME_COLUMNS), ("sent", LOG_COLUMNS)):
                for batch in self._tables[table].batches(columns, _READ_ROWS):
                    coded = self._coded(batch)
                    visit(table, coded)
                    kept = self._kept(table, coded)
                    del coded
                    if self._dir is None:
                        self._memory[table].append(kept)
                        continue
                    pending.append(writer.submit(self._put, table, kept))
                    while len(pending) > 1:
                        pending.popleft().result()
            while pending:
                pending.popleft().result()

    def __enter__(self) -> Pieces:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self._memory = {"frames": [], "sent": []}
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None

    def track_sid(self) -> npt.NDArray[np.int64]:
        """Track code -> sid code."""
        return np.fromiter((s for s, _ in self.tracks), np.int64, len(self.tracks))

    def track_name(self) -> npt.NDArray[np.int64]:
        """Track code -> track name code."""
        return np.fromiter((t for _, t in self.tracks), np.int64, len(self.tracks))

    def piece(self, number: int) -> Piece:
        """The rows of piece ``number`` (read back, then its files removed)."""
        return Piece(
            frames=self._take("frames", number), sent=self._take("sent", number)
        )

    def _coded(self, batch: pa.RecordBatch) -> Columns:
        """The batch as numpy arrays, ``stream_sid`` and ``track`` as one track code."""
        sid_index, sid_codes = _dictionary(batch.column("stream_sid"), self.sids)
        name_index, name_codes = _dictionary(batch.column("track"), self.track_names)
        width = len(name_codes)
        local = sid_index * width + name_index
        lookup = np.full(len(sid_codes) * width, -1, np.int64)
        for pair in np.flatnonzero(np.bincount(local, minlength=lookup.size)).tolist():
            key = (int(sid_codes[pair // width]), int(name_codes[pair % width]))
            lookup[pair] = self.tracks.setdefault(key, len(self.tracks))
        out: Columns = {"track": lookup[local]}
        for name in batch.schema.names:
            if name not in ("stream_sid", "track"):
                out[name] = batch.column(name).to_numpy()
        return out

    def _kept(self, table: str, columns: Columns) -> Columns:
        """The columns a piece keeps of a batch: track code, chunk, time."""
        self.rows[table] += int(columns["track"].size)
        return {
            "track": columns["track"].astype(np.int32),
            "chunk": columns["chunk"].astype(self._chunk),
            KEPT[table]: columns[KEPT[table]].astype(np.int64, copy=False),
        }

    def _put(self, table: str, kept: Columns) -> None:
        """Append each row of a batch to its track's piece (code modulo the count)."""
        piece = (kept["track"] % self.count).astype(
            np.uint8 if self.count <= 256 else np.int64
        )
        order = np.argsort(piece, kind="stable")
        sizes = np.bincount(piece, minlength=self.count)
        ends = np.cumsum(sizes)
        used = np.flatnonzero(sizes).tolist()
        for name, values in kept.items():
            ordered = values[order]
            for p in used:
                with self._path(table, p, name).open("ab") as out:
                    ordered[ends[p] - sizes[p] : ends[p]].tofile(out)

    def _take(self, table: str, number: int) -> Columns:
        names = ("track", "chunk", KEPT[table])
        types: tuple[type[np.integer[Any]], ...] = (np.int32, self._chunk, np.int64)
        out: Columns = {}
        if self._dir is None:
            batches, self._memory[table] = self._memory[table], []
            for name, dtype in zip(names, types, strict=True):
                arrays = [b.pop(name) for b in batches]
                out[name] = np.concatenate(arrays) if arrays else np.empty(0, dtype)
        else:
            for name, dtype in zip(names, types, strict=True):
                path = self._path(table, number, name)
                out[name] = (
                    np.fromfile(path, dtype) if path.exists() else np.empty(0, dtype)
                )
                path.unlink(missing_ok=True)
        out["track"] = out["track"].astype(np.int64)
        out["chunk"] = out["chunk"].astype(np.int64, copy=False)
        return out

    def _path(self, table: str, number: int, column: str) -> Path:
        assert self._dir is not None
        return Path(self._dir.name) / f"{table}.{number}.{column}"


def _chunk_type(*tables: Parts) -> type[np.integer[Any]]:
    """int32 when the footers show every chunk fits it (halves what a piece spills)."""
    for table in tables:
        stored = table.stored_range("chunk")
        if table.stored_rows and (
            stored is None or stored[0] < _INT32[0] or stored[1] > _INT32[1]
        ):
            return np.int64
    return np.int32


def _dictionary(
    column: pa.Array, registry: dict[str, int]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Each row's dictionary index, and each index's code in ``registry``.

    New values get the next codes; a null (value or index) counts as "".
    """
    if not pa.types.is_dictionary(column.type):
        column = pc.dictionary_encode(column)
    names = column.dictionary.to_pylist()
    codes = np.fromiter(
        (registry.setdefault(n or "", len(registry)) for n in [*names, ""]),
        np.int64,
        len(names) + 1,
    )
    indices = column.indices
    if indices.null_count:
        indices = pc.fill_null(indices, len(names))
    return indices.to_numpy().astype(np.int64), codes
