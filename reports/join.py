"""Join received streams to their requests by sid and judge them (:mod:`harness.core.join`).

The judgement is the core's; this module only turns the run's tables into its
inputs and its checkers back into ``rule_checks`` and ``violations`` rows
(source ``join``), dropping the receiver's rows they supersede. Frame counts
are read (a batch at a time) only for the few streams whose media the
receiver judged against a codec or tracks other than the requested ones.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pandas as pd

from harness.core.checks_io import checker_rows
from harness.core.join import (
    SOURCE,
    ArrivedStream,
    FrameFacts,
    SentRequest,
    join,
    needs_frames,
)
from harness.core.records import columns
from reports.load import Run


__all__ = ["joined_checks"]


def _text(frame: pd.DataFrame, name: str) -> list[str]:
    return [str(v) for v in frame[name]] if name in frame else [""] * len(frame)


def _sent(requests: pd.DataFrame) -> list[SentRequest]:
    rows = requests[(requests["kind"] == "start") & (requests["stream_sid"] != "")]
    return [
        SentRequest(*values)
        for values in zip(
            *(
                _text(rows, n)
                for n in (
                    "request_id",
                    "stream_sid",
                    "codec",
                    "track",
                    "params",
                    "correlation",
                    "account_sid",
                )
            ),
            strict=True,
        )
    ]


def _arrived(streams: pd.DataFrame) -> list[ArrivedStream]:
    return [
        ArrivedStream(*values)
        for values in zip(
            *(
                _text(streams, n)
                for n in (
                    "stream_sid",
                    "tracks",
                    "media_format",
                    "params",
                    "correlation",
                    "account_sid",
                )
            ),
            strict=True,
        )
    ]


def _frame_facts(run: Run, sids: set[str]) -> dict[str, FrameFacts]:
    tracks: dict[str, Counter[str]] = {sid: Counter() for sid in sids}
    sizes: dict[str, Counter[int]] = {sid: Counter() for sid in sids}
    parts = run.frames.where_sids(sids)
    for batch in parts.batches(["stream_sid", "track", "payload_bytes"]):
        data: Any = batch.to_pandas()
        for (sid, track, size), n in (
            data.groupby(["stream_sid", "track", "payload_bytes"], observed=True)
            .size()
            .items()
        ):
            tracks[str(sid)][str(track)] += int(n)
            sizes[str(sid)][int(size)] += int(n)
    return {sid: FrameFacts(tracks[sid], sizes[sid]) for sid in sids}


def joined_checks(run: Run) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The run's ``rule_checks`` and ``violations`` with the join's verdicts in
    place of the receiver's for joined streams."""
    sent = _sent(run.requests)
    if not sent:
        return run.rule_checks, run.violations
    arrived = _arrived(run.streams)
    by_sid = {r.stream_sid: r for r in sent if r.correlation}
    need = {
        a.stream_sid
        for a in arrived
        if a.stream_sid in by_sid
        and a.media_format
        and needs_frames(by_sid[a.stream_sid], a)
    }
    facts = _frame_facts(run, need) if need else {}
    result = join(sent, arrived, facts)
    if not result.checkers:
        return run.rule_checks, run.violations
    rows: dict[str, list[tuple[object, ...]]] = {"rule_checks": [], "violations": []}
    for checker in result.checkers:
        for table, row in checker_rows(SOURCE, checker):
            rows[table].append(row)
    superseded = pd.MultiIndex.from_tuples(
        sorted(result.superseded), names=["subject", "rule"]
    )
    out = []
    for table, mine in (
        ("rule_checks", run.rule_checks),
        ("violations", run.violations),
    ):
        key = pd.MultiIndex.from_arrays(
            [mine["subject"].astype(str), mine["rule"].astype(str)]
        )
        drop = (
            key.isin(superseded) & (mine["source"].astype(str) == "receiver").to_numpy()
        )
        kept = mine[~drop]
        kept = kept.astype(
            {
                c: str
                for c in kept.columns
                if isinstance(kept[c].dtype, pd.CategoricalDtype)
            }
        )
        added = pd.DataFrame(rows[table], columns=list(columns(table)))
        out.append(pd.concat([kept, added[list(mine.columns)]], ignore_index=True))
    return out[0], out[1]
