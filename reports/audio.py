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
        levels: list[tuple[Run, pd.Series[str]]],
        sid_level: pd.Series[int],
        byte_order: ByteOrder = "big",
    ) -> list[AudioFacts]:
        """One pass over the whole run's samples for every capacity level.

        ``levels``: each level's window and its stream codecs; ``sid_level``:
        stream sid -> level index. Each level gets exactly what
        ``AudioFacts(window, sid_codec)`` would compute.
        """
        out = [cls(part, codecs, byte_order, read=False) for part, codecs in levels]
        for batch in run.audio.batches():
            sids = batch.column("stream_sid").to_numpy(zero_copy_only=False)
            level = pd.Series(sids.astype(str)).map(sid_level).fillna(-1)
            level_of = level.to_numpy(np.int64)
            for lv in np.unique(level_of).tolist():
                if lv >= 0:
                    mine = out[lv]
                    rows = batch.filter(pa.array(level_of == lv))
                    mine._batch(rows, mine._sid_codec, mine._logged)
        return out

    def _batch(
        self, batch: pa.RecordBatch, sid_codec: pd.Series[str], logged: set[str]
    ) -> None:
        if not batch.num_rows:
            return
        self.rows += batch.num_rows
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
            pd.Series(sids)
            .map(sid_codec)
            .fillna(frame["announced"])
            .replace("", UNKNOWN)
        )
        frame["checked"] = frame["sid"].isin(logged)
        payload = batch.column("payload")
        offsets, data = _buffers(payload)
        frame["length"] = np.diff(offsets)
        for (codec, track), rows in frame.groupby(["codec", "track"], sort=True):
            key = (str(codec), str(track))
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
