"""Audio fidelity per codec and track: every sampled payload against the test tone.

Receivers keep one payload a second per track (``audio_samples``); the
reference platform sends a known tone (:func:`harness.core.audio.tone`). Each payload is
decoded as its stream announced and compared with the tone it should carry
(:mod:`harness.core.audio`), in batches of equal-length payloads, so a long run's
million samples cost a few array operations. The verdict shows a wrong codec,
rate, byte order or track, or damaged payloads, at a glance; for frames under
the codec's floor a few are diagnosed by trying the other readings.

Only streams the reference platform logged are checked: against a real
platform the audio is whatever the conference carries, so there is no
reference (``basis: null``).
"""

from __future__ import annotations

import collections
import dataclasses
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Final, cast

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa

from harness.core.audio import diagnose, floor_db, snr_batch, verdict
from harness.core.codecs import CODEC_NAMES, ByteOrder, get_codec
from reports.frames import UNKNOWN
from reports.load import Parts, Run


__all__ = ["AudioFacts"]

_DIAGNOSED: Final = 20
"""Failing frames per (codec, track) read every other way: enough to name the fault."""
_BASIS: Final = "reference tone"
_CHUNK_ROWS: Final = 1 << 18
"""Sampled payloads grouped at once (of ~160-640 bytes: ~100 MB at most)."""

Json = dict[str, Any]
F64 = npt.NDArray[np.float64]


class AudioFacts:
    """SNR of every checkable sampled payload, grouped by (requested codec, track).

    Args:
        run: the loaded records.
        sid_codec: stream sid -> requested codec (the report's grouping).
        byte_order: how L16 payloads are read (contract §10 leaves it open).
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
            for batch in _chunks(run.audio):
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
        for lv, facts in enumerate(out):
            mine = sid_level[sid_level == lv].index
            known = facts._sid_codec
            codec.update(
                (str(k), str(v)) for k, v in known[known.index.isin(mine)].items()
            )
        by_level = pd.Series(codec, dtype=object)
        for batch in _chunks(run.audio):
            frame, offsets, data = _frame(batch, sid_codec, whole._logged)
            if frame is None:
                continue
            # a level's rows are those of its streams, each logged or not as in
            # the whole run (its window keeps their platform rows)
            frame["level"] = frame["sid"].map(sid_level).fillna(-1).astype(np.int64)
            frame["lcodec"] = (
                frame["sid"]
                .map(by_level)
                .fillna(frame["announced"])
                .replace("", UNKNOWN)
            )
            cache = _Cache(np.full(len(frame), np.nan), {})
            _ingest(frame, ["codec", "track"], lambda k: whole, offsets, data, cache)
            _ingest(
                frame[frame["level"] >= 0],
                ["level", "lcodec", "track"],
                lambda k: out[int(str(k))],
                offsets,
                data,
                cache,
            )
        return whole, out

    def _batch(
        self, batch: pa.RecordBatch, sid_codec: pd.Series[str], logged: set[str]
    ) -> None:
        frame, offsets, data = _frame(batch, sid_codec, logged)
        if frame is not None:
            _ingest(frame, ["codec", "track"], lambda _: self, offsets, data, None)

    def _check(
        self,
        key: tuple[str, str],
        announced: str,
        length: int,
        rows: pd.DataFrame,
        offsets: npt.NDArray[np.int64],
        data: npt.NDArray[np.uint8],
        cache: _Cache | None = None,
    ) -> None:
        """SNR of equal-length payloads read as ``announced`` (else the requested codec).

        ``cache``: SNRs and diagnoses of the batch's rows read as their announced
        codec, shared by the whole run and its capacity levels."""
        name = announced if announced in CODEC_NAMES else key[0]
        if name not in CODEC_NAMES:
            return  # no decoder for either: counted as sampled, not checked
        if name != announced:
            cache = None  # read as the requested codec: the whole run's may differ
        codec = get_codec(name, self.byte_order)
        index = rows.index.to_numpy()
        chunks = rows["chunk"].to_numpy(np.int64)
        starts = offsets[index]
        payloads = data[starts[:, None] + np.arange(length)[None, :]]
        known = cache.snrs[index] if cache is not None else None
        if known is not None and not np.isnan(known).any():
            snrs = known
        elif length == 0:
            snrs = np.full(len(rows), -100.0)
        else:
            snrs = snr_batch(codec, key[1], chunks, payloads)
        if cache is not None:
            cache.snrs[index] = snrs
        self.snrs[key].append(snrs)
        bad = np.flatnonzero(snrs < floor_db(name))
        budget = _DIAGNOSED - sum(self.diagnoses[key].values())
        for i in bad[: max(budget, 0)]:
            row = int(index[i])
            label = cache.labels.get(row) if cache is not None else None
            if label is None:
                label = diagnose(
                    payloads[i].tobytes(), name, key[1], int(chunks[i]), self.byte_order
                ).label
                if cache is not None:
                    cache.labels[row] = label
            self.diagnoses[key][label] += 1

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


@dataclasses.dataclass
class _Cache:
    """Per row of one batch: its SNR (NaN: not yet computed) and diagnosis."""

    snrs: F64
    labels: dict[int, str]


def _ingest(
    frame: pd.DataFrame,
    by: list[str],
    facts_of: Callable[[Any], AudioFacts],
    offsets: npt.NDArray[np.int64],
    data: npt.NDArray[np.uint8],
    cache: _Cache | None,
) -> None:
    """Count a batch's rows per key (``by``, the last two codec and track) and check
    the logged ones, in key order, then announced codec and length, as one
    (codec, track) at a time would."""
    if not len(frame):
        return
    counts = frame.groupby([*by, "announced"], sort=False, observed=True).size()
    # keys in order, each key's announced codecs in the order they came
    for index, n in sorted(counts.items(), key=lambda item: _tuple(item[0])[:-1]):
        at = _tuple(index)
        facts = facts_of(at[0] if len(at) > 3 else None)
        key = (str(at[-3]), str(at[-2]))
        facts.rows += int(n)
        facts.sampled[key] += int(n)
        facts.announced[key][str(at[-1])] += int(n)
    checked = frame[frame["checked"]]
    for index, same in checked.groupby([*by, "announced", "length"], sort=True):
        at = _tuple(index)
        facts = facts_of(at[0] if len(at) > 4 else None)
        key = (str(at[-4]), str(at[-3]))
        facts._check(key, str(at[-2]), int(str(at[-1])), same, offsets, data, cache)


def _chunks(parts: Parts) -> Iterator[pa.RecordBatch]:
    """The samples in order, many row groups to a batch: grouping costs the same
    for 300 rows as for 300,000, and a run's parts hold a second's rows each.

    A run's samples usually fit one chunk; then a capacity level's samples are
    checked in the same order as the whole run's (the few diagnosed payloads of
    a codec and track are the same ones)."""
    held: list[pa.RecordBatch] = []
    rows = 0
    for batch in parts.batches():
        held.append(batch)
        rows += batch.num_rows
        if rows >= _CHUNK_ROWS:
            yield _joined(held)
            held, rows = [], 0
    if held:
        yield _joined(held)


def _joined(batches: list[pa.RecordBatch]) -> pa.RecordBatch:
    if len(batches) == 1:
        return batches[0]
    table = pa.Table.from_batches(batches).combine_chunks()
    return pa.RecordBatch.from_arrays(
        [column.chunk(0) for column in table.columns], names=table.column_names
    )


def _tuple(index: object) -> tuple[Any, ...]:
    return tuple(cast(Sequence[Any], index))


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
