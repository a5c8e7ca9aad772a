"""Audio fidelity per codec and track: every sampled payload against the test tone.

Receivers keep one payload a second per track (``audio_samples``); the
reference platform sends a known tone (harness/signal.py). Each payload is
decoded as its stream announced and compared with the tone it should carry
(:mod:`harness.audio`), in batches of equal-length payloads, so a long run's
million samples cost a few array operations. The verdict shows a wrong codec,
rate, byte order or track, or damaged payloads, at a glance; for frames under
the codec's floor a few are diagnosed by trying the other readings.

Only streams the reference platform logged are checked: against a real
platform the audio is whatever the conference carries, so there is no
reference (``basis: null``).
"""

from __future__ import annotations

import collections
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa

from harness.audio import diagnose, floor_db, snr_batch, verdict
from harness.codecs import CODEC_NAMES, ByteOrder, get_codec
from reports.frames import UNKNOWN
from reports.load import Run


__all__ = ["AudioFacts"]

_DIAGNOSED: Final = 20
"""Failing frames per (codec, track) read every other way: enough to name the fault."""
_BASIS: Final = "reference tone"

Json = dict[str, Any]
F64 = npt.NDArray[np.float64]


class AudioFacts:
    """SNR of every checkable sampled payload, grouped by (requested codec, track).

    Args:
        run: the loaded records.
        sid_codec: stream sid -> requested codec (the report's grouping).
        byte_order: how L16 payloads are read (api.md §10 leaves it open).
    """

    def __init__(
        self,
        run: Run,
        sid_codec: pd.Series[str],
        byte_order: ByteOrder = "big",
        *,
        read: bool = True,
    ) -> None:
        self.byte_order: ByteOrder = byte_order
        logged = set(run.platform_streams["stream_sid"].astype(str))
        self._logged, self._sid_codec = logged, sid_codec
        self.has_reference = bool(logged)
        self.sampled = collections.Counter[tuple[str, str]]()
        self.snrs: dict[tuple[str, str], list[F64]] = collections.defaultdict(list)
        self.diagnoses: dict[tuple[str, str], collections.Counter[str]] = (
            collections.defaultdict(collections.Counter)
        )
        self.announced: dict[tuple[str, str], collections.Counter[str]] = (
            collections.defaultdict(collections.Counter)
        )
        self.rows = 0
        """Sampled payloads read (every row of the table, checked or not)."""
        if read:
            for batch in run.audio.batches():
                self._batch(batch, sid_codec, logged)

    @classmethod
    def by_level(
        cls,
        run: Run,
        sid_codec: pd.Series[str],
        levels: list[tuple[Run, pd.Series[str]]],
        sid_level: pd.Series[int],
        byte_order: ByteOrder = "big",
    ) -> tuple[AudioFacts, list[AudioFacts]]:
        """One read of the whole run's samples for the run and every capacity level.

        ``levels``: each level's window and its stream codecs; ``sid_level``:
        stream sid -> level index (each sid in one level). The run gets what
        ``AudioFacts(run, sid_codec)`` computes, each level exactly what
        ``AudioFacts(window, its codecs)`` would.
        """
        whole = cls(run, sid_codec, byte_order, read=False)
        out = [cls(part, codecs, byte_order, read=False) for part, codecs in levels]
        codec: dict[str, str] = {}
        logged: set[str] = set()
        for lv, facts in enumerate(out):
            mine = sid_level[sid_level == lv].index
            known = facts._sid_codec
            codec.update(
                (str(k), str(v)) for k, v in known[known.index.isin(mine)].items()
            )
            logged |= facts._logged & set(mine)
        by_level = pd.Series(codec, dtype=object)
        for batch in run.audio.batches():
            whole._batch(batch, sid_codec, whole._logged)
            frame, offsets, data = _frame(batch, by_level, logged)
            if frame is None:
                continue
            frame["level"] = frame["sid"].map(sid_level).fillna(-1).astype(np.int64)
            frame = frame[frame["level"] >= 0]
            for (at, name, track), rows in frame.groupby(
                ["level", "codec", "track"], sort=True
            ):
                out[int(str(at))]._take((str(name), str(track)), rows, offsets, data)
        return whole, out

    def _batch(
        self, batch: pa.RecordBatch, sid_codec: pd.Series[str], logged: set[str]
    ) -> None:
        frame, offsets, data = _frame(batch, sid_codec, logged)
        if frame is None:
            return
        for (codec, track), rows in frame.groupby(["codec", "track"], sort=True):
            self._take((str(codec), str(track)), rows, offsets, data)

    def _take(
        self,
        key: tuple[str, str],
        rows: pd.DataFrame,
        offsets: npt.NDArray[np.int64],
        data: npt.NDArray[np.uint8],
    ) -> None:
        """Count one (codec, track)'s rows of a batch and check those logged."""
        self.rows += len(rows)
        self.sampled[key] += len(rows)
        self.announced[key].update(rows["announced"].astype(str).tolist())
        rows = rows[rows["checked"]]
        for (announced, length), same in rows.groupby(
            ["announced", "length"], sort=True
        ):
            size = int(str(length))
            self._check(key, str(announced), size, same, offsets, data)

    def _check(
        self,
        key: tuple[str, str],
        announced: str,
        length: int,
        rows: pd.DataFrame,
        offsets: npt.NDArray[np.int64],
        data: npt.NDArray[np.uint8],
    ) -> None:
        """SNR of equal-length payloads read as ``announced`` (else the requested codec)."""
        name = announced if announced in CODEC_NAMES else key[0]
        if name not in CODEC_NAMES:
            return  # no decoder for either: counted as sampled, not checked
        codec = get_codec(name, self.byte_order)
        index = rows.index.to_numpy()
        chunks = rows["chunk"].to_numpy(np.int64)
        starts = offsets[index]
        payloads = data[starts[:, None] + np.arange(length)[None, :]]
        if length == 0:
            snrs = np.full(len(rows), -100.0)
        else:
            snrs = snr_batch(codec, key[1], chunks, payloads)
        self.snrs[key].append(snrs)
        bad = np.flatnonzero(snrs < floor_db(name))
        budget = _DIAGNOSED - sum(self.diagnoses[key].values())
        for i in bad[: max(budget, 0)]:
            reading = diagnose(
                payloads[i].tobytes(), name, key[1], int(chunks[i]), self.byte_order
            )
            self.diagnoses[key][reading.label] += 1

    def summary(self, codec: str, track: str | None = None) -> Json:
        """The ``audio`` block of one codec (all its tracks) or one codec and track."""
        keys = [k for k in self.sampled if k[0] == codec and track in (None, k[1])]
        parts = [a for k in keys for a in self.snrs.get(k, [])]
        snrs = np.concatenate(parts) if parts else np.zeros(0)
        announced: collections.Counter[str] = collections.Counter()
        diagnoses: collections.Counter[str] = collections.Counter()
        for k in keys:
            announced.update(self.announced[k])
            diagnoses.update(self.diagnoses.get(k, {}))
        name = codec if codec in CODEC_NAMES else next(iter(announced), codec)
        floor = floor_db(name)
        return {
            "basis": _BASIS if self.has_reference else None,
            "frames_sampled": int(sum(self.sampled[k] for k in keys)),
            "frames_checked": int(len(snrs)),
            "snr_db": _snr_summary(snrs),
            "floor_db": floor,
            "below_floor": int(np.sum(snrs < floor)),
            "verdict": verdict(snrs, name),
            "announced": dict(sorted(announced.items())),
            "diagnosis": dict(diagnoses.most_common()),
        }


def _frame(
    batch: pa.RecordBatch, sid_codec: pd.Series[str], logged: set[str]
) -> tuple[pd.DataFrame | None, npt.NDArray[np.int64], npt.NDArray[np.uint8]]:
    """A batch's rows with their requested codec and whether they can be checked,
    and the payloads' offsets and bytes (``None``: an empty batch)."""
    if not batch.num_rows:
        return None, np.zeros(0, np.int64), np.zeros(0, np.uint8)
    sids = batch.column("stream_sid").to_numpy(zero_copy_only=False).astype(str)
    frame = pd.DataFrame(
        {
            "sid": sids,
            "track": batch.column("track").to_numpy(zero_copy_only=False),
            "chunk": batch.column("chunk").to_numpy(zero_copy_only=False),
            "announced": batch.column("codec").to_numpy(zero_copy_only=False),
        }
    )
    frame["codec"] = (
        pd.Series(sids).map(sid_codec).fillna(frame["announced"]).replace("", UNKNOWN)
    )
    frame["checked"] = frame["sid"].isin(logged)
    offsets, data = _buffers(batch.column("payload"))
    frame["length"] = np.diff(offsets)
    return frame, offsets, data


def _snr_summary(snrs: F64) -> dict[str, float | None]:
    if not len(snrs):
        return {"p50": None, "p5": None, "min": None}
    p50, p5 = np.quantile(snrs, [0.5, 0.05])
    return {
        "p50": round(float(p50), 2),
        "p5": round(float(p5), 2),
        "min": round(float(snrs.min()), 2),
    }


def _buffers(column: pa.Array) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.uint8]]:
    """Offsets (one per row, plus the end) and bytes of a binary column."""
    array = (
        column.cast(pa.large_binary()) if column.type != pa.large_binary() else column
    )
    buffers = array.buffers()
    offsets = np.frombuffer(buffers[1], dtype=np.int64)[
        array.offset : array.offset + len(array) + 1
    ]
    data = (
        np.frombuffer(buffers[2], dtype=np.uint8)
        if buffers[2] is not None
        else np.zeros(0, np.uint8)
    )
    return offsets.astype(np.int64), data
