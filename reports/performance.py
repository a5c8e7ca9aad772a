"""Media performance per codec and per codec + track (docs/architecture.md, "What a run measures").

* ``loss_ratio``: with a send log, ``1 - unique received / unique sent`` over
  the (stream, track, chunk) the platform logged; without one, from chunk gaps
  per track (``highest chunk - unique chunks``), which cannot see a lost tail.
* ``latency_ms``: per frame matched in the send log, ``arrival - sent``: exact
  transit when both ran on one host (one CLOCK_MONOTONIC). ``sent_ns`` is when
  the frame left the platform's media pipeline, before any emulated impairment,
  so an injected delay is part of transit.
* ``lateness_ms``: ``arrival - (first media due + (chunk - 1) x 20 ms)`` on the
  platform's schedule (``platform_streams.first_due_ns``): transit plus the
  sender's own lateness; needs the reference platform's records.
* ``loss_bursts``: runs of consecutive lost chunks of a track (``count``,
  ``longest``), from the send log or, without one, from chunk gaps.
* ``transit_relative_ms``: ``arrival - chunk x 20 ms`` above the track's
  fastest frame; needs no send log, so it also works against a real platform.
* ``jitter_ms``: the receivers' RFC 3550 running estimate per frame, over the
  frames past their track's warm-up (its first 64 frames, while the estimate
  still rises from 0; :mod:`harness.core.metrics.jitter`), so hold time does not
  move it; ``jitter_ms.warmup_frames`` counts the frames left out.
* ``interarrival_ms``: gaps between consecutive arrivals on one track.
* ``reordered``: frames that arrived after a higher chunk of the same track.
* ``setup_ms`` / ``first_media_ms``: start request sent -> ``start`` message /
  first ``media`` at the receiver, joined on the request id; ``stop_ms``: stop
  request sent -> ``stop`` message, joined on the stream sid.
* ``throughput``: frames/s and payload bytes/s over the active span (first to
  last arrival), and the real-time factor (media seconds per wall second).
* Per stream, as distributions over a codec's streams: ``duration_ms``
  (``start`` to ``stop``, else to the close), ``stream_frames``,
  ``stream_bytes`` and ``realtime_factor`` (media seconds per track over the
  wall time from first media to ``stop``/close: 1.0 is real time).
* ``audio``: fidelity of the sampled payloads against the reference tone
  (:mod:`reports.audio`).
* ``receiver_histograms``: the receivers' own mergeable histograms
  (:mod:`reports.histograms`), per announced codec and track.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from harness.core.codecs import FRAME_NS, ByteOrder
from harness.core.health import CPU_SATURATED, LAG_P99_SATURATED_NS
from reports import over_time
from reports.audio import AudioFacts
from reports.frames import UNKNOWN, FrameFacts, View
from reports.health import summarise_harness
from reports.histograms import summarise_histograms
from reports.load import Run
from reports.stats import NS_PER_MS, distribution, spread


__all__ = [
    "Level",
    "Performance",
    "Plots",
    "analyse",
    "analyse_levels",
    "plot_limits",
    "stream_codecs",
]

_SETUP_BINS = 30
_STREAM_TIMES = ("setup_ms", "first_media_ms", "stop_ms", "duration_ms")
_STREAM_AMOUNTS = ("stream_frames", "stream_bytes", "realtime_factor")

Json = dict[str, Any]
I64 = npt.NDArray[np.int64]


Line = tuple[list[float], list[float]]
"""A line's xs and ys."""


@dataclasses.dataclass(frozen=True)
class Plots:
    """Downsampled series for the HTML plots (never the raw frames).

    Times are seconds from the run's first request (else its first frame), as
    in "What failed and when"; every time series has at most
    :data:`reports.series.MAX_POINTS` points.
    """

    latency_percentiles: dict[str, Line]
    """Codec -> (transit latency ms at each percentile, the percentile 0..1)."""
    track_percentiles: dict[str, dict[str, Line]]
    """Codec -> track -> the same, for codecs with frames on several tracks."""
    time_bin_s: float
    """Width of one bin of :attr:`latency_over_time`, in seconds."""
    latency_over_time: dict[str, tuple[list[float], list[float], list[float]]]
    """Codec -> (bin start s, p50 ms, p99 ms) of the frames that arrived in it."""
    streams_over_time: Line
    """(s, streams live at a receiver), as a step that holds until the next x."""
    errors_bin_s: float
    errors_over_time: dict[str, Line]
    """What (failed start requests, ...) -> (bin start s, count in the bin)."""
    harness_over_time: dict[str, tuple[list[float], list[float], list[float]]]
    """Producer -> (s, event-loop CPU share of a core, loop lag p99 ms)."""
    codec_bars: dict[str, dict[str, float | None]]
    """Codec -> ``latency_ms.p50``/``.p99``, ``jitter_ms.p50``/``.p99``, ``loss_ratio``."""
    setup_edges_ms: list[float]
    setup_counts: dict[str, list[int]]
    """Codec -> streams per setup-latency bin (edges shared by all codecs)."""
    limits: dict[str, float] = dataclasses.field(default_factory=dict)
    """The tightest upper gate per plotted metric (``latency_ms.p99``,
    ``loss_ratio``, ...; see :func:`plot_limits`), and the harness's own
    saturation limits (``harness.loop_cpu``, ``harness.lag_p99_ms``)."""


@dataclasses.dataclass(frozen=True)
class Performance:
    codecs: dict[str, Json]
    tracks: dict[str, dict[str, Json]]
    """Codec -> media track (``inbound``/``outbound``) -> frame metrics."""
    basis: dict[str, str | None]
    """How ``loss_ratio`` and ``latency_ms`` were measured (``None``: no data)."""
    plots: Plots
    harness: Json
    """``performance.harness``: the producers' own health and the saturation flag."""
    receiver_histograms: Json
    """Announced codec -> track -> metric -> summary of the merged histograms."""


def stream_codecs(run: Run) -> pd.Series[str]:
    """Stream sid -> the codec its start request asked for.

    Performance is reported per requested codec (the matrix dimension), so a
    platform that streams the wrong codec shows up under the one asked for (and
    fails WS-START-001). The request is found through the receiver's request id,
    else the stream sid the start response gave; failing both, the platform's
    record, then what the receiver saw.
    """
    start = run.requests[run.requests["kind"] == "start"]
    start = start[start["codec"] != ""]
    by_request = _first(start, "request_id", "codec")
    streams, platform = run.streams, run.platform_streams
    parts = [
        pd.Series(
            streams["request_id"].map(by_request).to_numpy(),
            index=streams["stream_sid"].to_numpy(),
        ),
        pd.Series(start["codec"].to_numpy(), index=start["stream_sid"].to_numpy()),
        pd.Series(
            platform["codec"].to_numpy(), index=platform["stream_sid"].to_numpy()
        ),
        pd.Series(streams["codec"].to_numpy(), index=streams["stream_sid"].to_numpy()),
    ]
    merged = pd.concat(parts)
    merged = merged[merged.notna() & (merged != "") & (merged.index != "")]
    return merged[~merged.index.duplicated()].astype(str)


def analyse(run: Run, l16_byte_order: ByteOrder = "big") -> Performance:
    """Compute the performance sections of the summary from ``run``.

    ``l16_byte_order`` is how the audio check reads L16 payloads (contract §10).
    """
    sid_codec = stream_codecs(run)
    codecs = _codec_names(run, sid_codec)
    facts = FrameFacts(run, sid_codec, codecs)
    audio = AudioFacts(run, sid_codec, l16_byte_order)
    return _performance(run, sid_codec, codecs, facts, audio)


@dataclasses.dataclass(frozen=True)
class Level:
    """One capacity level: its window of the run and what its per-frame tables hold."""

    run: Run
    performance: Performance
    frames: int
    sent_frames: int
    audio: int
    bounds: dict[str, tuple[int, int] | None]
    """``arrival_ns`` and ``sent_ns``: least and greatest positive value."""


def analyse_levels(
    run: Run,
    windows: list[tuple[Run, set[str]]],
    l16_byte_order: ByteOrder = "big",
) -> tuple[Performance, list[Level]]:
    """:func:`analyse` of the whole run and of every window (a capacity level),
    in one pass over the per-frame tables.

    ``windows``: each level's run (the small tables cut to the level) and its
    stream sids; each stream belongs to the first window that names it. The
    numbers are those ``analyse(run)`` and ``analyse(window)`` give, but each
    frame is read once: its stream's codec names the level, the codec the
    level's window gives it and the codec the whole run gives it, and the
    whole run and each level are views that merge those codecs
    (``FrameFacts(views=...)``).
    """
    sid_codec = stream_codecs(run)
    codecs = _codec_names(run, sid_codec)
    sid_codecs = [stream_codecs(part) for part, _ in windows]
    level_codecs = [
        _codec_names(p, c) for (p, _), c in zip(windows, sid_codecs, strict=True)
    ]
    composite, mapping, sid_level = _composite_codecs(sid_codec, windows, sid_codecs)
    fallback = composite.setdefault((-1, "", UNKNOWN), len(composite))
    keys = list(composite)
    names = [f"{lv}:{a}:{b}" for lv, a, b in keys]
    names[fallback] = UNKNOWN  # streams no record names
    views: list[View] = [
        (
            codecs,
            [[k for k, key in enumerate(keys) if key[2] == c] for c in codecs],
            None,
            None,
        )
    ]
    for lv, level in enumerate(level_codecs):
        sources = [
            [k for k, key in enumerate(keys) if key[0] == lv and key[1] == c]
            for c in level
        ]
        mine = {s for s, owned in sid_level.items() if owned == lv}
        views.append((level, sources, lv, mine))
    coded = pd.Series({s: names[k] for s, k in mapping.items()}, dtype=object)
    facts = FrameFacts(run, coded, names, levels=[key[0] for key in keys], views=views)
    whole_audio, audio = AudioFacts.by_level(
        run,
        sid_codec,
        [(part, c) for (part, _), c in zip(windows, sid_codecs, strict=True)],
        pd.Series(sid_level, dtype=object),
        l16_byte_order,
    )
    performance = _performance(run, sid_codec, codecs, facts.views[0], whole_audio)
    out = []
    for lv, (part, _) in enumerate(windows):
        view = facts.views[lv + 1]
        out.append(
            Level(
                run=part,
                performance=_performance(
                    part, sid_codecs[lv], level_codecs[lv], view, audio[lv], plots=False
                ),
                frames=int(view.frames.sum()),
                sent_frames=int(view.sent.sum()),
                audio=audio[lv].rows,
                bounds={
                    "arrival_ns": _span(view.first, view.last),
                    "sent_ns": _span(view.sent_first, view.sent_last),
                },
            )
        )
    return performance, out


def _composite_codecs(
    sid_codec: pd.Series[str],
    windows: list[tuple[Run, set[str]]],
    sid_codecs: list[pd.Series[str]],
) -> tuple[dict[tuple[int, str, str], int], dict[str, int], dict[str, int]]:
    """Number each (level, codec in the level, codec in the whole run) a stream has.

    Returns those numbers by key, each stream's number, and each stream's
    level (the first window naming it); a stream in no window gets level -1.
    """
    whole = {str(k): str(v) for k, v in sid_codec.items()}
    composite: dict[tuple[int, str, str], int] = {}
    mapping: dict[str, int] = {}
    sid_level: dict[str, int] = {}
    for lv, ((_, sids), by_sid) in enumerate(zip(windows, sid_codecs, strict=True)):
        known = {str(k): str(v) for k, v in by_sid.items()}
        for sid in sids:
            if sid not in sid_level:
                sid_level[sid] = lv
                key = (lv, known.get(sid, UNKNOWN), whole.get(sid, UNKNOWN))
                mapping[sid] = composite.setdefault(key, len(composite))
    for sid, codec in whole.items():
        if sid not in mapping:
            key = (-1, "", codec)
            mapping[sid] = composite.setdefault(key, len(composite))
    return composite, mapping, sid_level


def _span(lows: I64, highs: I64) -> tuple[int, int] | None:
    low, high = (
        int(lows.min(initial=np.iinfo(np.int64).max)),
        int(highs.max(initial=np.iinfo(np.int64).min)),
    )
    return (low, high) if low <= high else None


def _performance(
    run: Run,
    sid_codec: pd.Series[str],
    codecs: list[str],
    facts: FrameFacts,
    audio: AudioFacts,
    *,
    plots: bool = True,
) -> Performance:
    """``plots``: build the plots' series (a capacity level's are never drawn)."""
    times = _stream_times(run, sid_codec, codecs)
    counts = _stream_counts(run, sid_codec, facts.sids_with_frames)
    n_names = facts.n_names

    out: dict[str, Json] = {}
    tracks: dict[str, dict[str, Json]] = {}
    for c, codec in enumerate(codecs):
        entry: Json = {"streams": counts.get(codec, 0)}
        entry.update(facts.codec_metrics(c))
        entry.update(
            {
                name: distribution(v) if name in _STREAM_TIMES else spread(v)
                for name, v in times[codec].items()
            }
        )
        entry["audio"] = audio.summary(codec)
        for t, track in enumerate(facts.track_names):
            if facts.has_data(c * n_names + t):
                metrics = facts.track_metrics(c * n_names + t)
                metrics["audio"] = audio.summary(codec, track)
                tracks.setdefault(codec, {})[track] = metrics
        seen = entry["streams"] or entry["frames"] or entry["frames_sent"]
        if codec != UNKNOWN or seen or any(len(v) for v in times[codec].values()):
            out[codec] = entry

    return Performance(
        codecs=out,
        tracks=tracks,
        basis=facts.basis(),
        plots=_plots(run, facts, out, times) if plots else _NO_PLOTS,
        harness=summarise_harness(run.health, run.histograms, facts.pacing),
        receiver_histograms=summarise_histograms(run.histograms),
    )


def _first(frame: pd.DataFrame, key: str, value: str) -> pd.Series[Any]:
    """``value`` of the first row per non-empty ``key``, indexed by ``key``."""
    rows = frame[frame[key] != ""].drop_duplicates(key)
    return pd.Series(rows[value].to_numpy(), index=rows[key].to_numpy())


def _codec_names(run: Run, sid_codec: pd.Series[str]) -> list[str]:
    """Every codec the run touched, plus :data:`UNKNOWN` for streams no record names."""
    names = set(sid_codec.unique().tolist())
    requests = run.requests
    ok = requests[(requests["kind"] == "start") & (requests["status"] == 200)]
    names.update(ok["codec"].unique().tolist())
    names.discard("")
    names.discard(UNKNOWN)
    return [*sorted(str(n) for n in names), UNKNOWN]


def _stream_times(
    run: Run, sid_codec: pd.Series[str], codecs: list[str]
) -> dict[str, dict[str, npt.NDArray[Any]]]:
    """Per codec, one value per stream: setup, first-media, stop latency and
    duration in ns; frames, bytes and the real-time factor."""
    requests = run.requests[run.requests["sent_ns"] > 0]
    start_sent = _first(requests[requests["kind"] == "start"], "request_id", "sent_ns")
    stop_sent = _first(requests[requests["kind"] == "stop"], "stream_sid", "sent_ns")
    streams = run.streams[run.streams["start_ns"] > 0]
    codec = streams["stream_sid"].map(sid_codec)
    codec = codec.where(codec.notna(), streams["codec"]).replace("", UNKNOWN)
    sent = streams["request_id"].map(start_sent)
    end = streams["stop_ns"].where(streams["stop_ns"] > 0, streams["closed_ns"])
    tracks = np.where(streams["track"].astype(str) == "both_tracks", 2, 1)
    media_ns = streams["frames"].to_numpy(np.float64) / tracks * FRAME_NS
    wall = _minus(end, streams["first_media_ns"]).astype("float64")
    wall = wall.where(wall > 0)
    durations = {
        "setup_ms": _minus(streams["start_ns"], sent),
        "first_media_ms": _minus(streams["first_media_ns"], sent),
        "stop_ms": _minus(streams["stop_ns"], streams["stream_sid"].map(stop_sent)),
        "duration_ms": _minus(end, streams["start_ns"]),
    }
    # Plain arrays and masks, not a frame filtered per codec: this runs once
    # per capacity level, where pandas indexing cost more than the values.
    present = {name: ~values.isna().to_numpy() for name, values in durations.items()}
    times = {
        name: values.to_numpy(np.int64, na_value=0)
        for name, values in durations.items()
    }
    amounts = {
        "stream_frames": streams["frames"].to_numpy(np.float64),
        "stream_bytes": streams["payload_bytes"].to_numpy(np.float64),
        "realtime_factor": (pd.Series(media_ns, index=wall.index) / wall).to_numpy(
            np.float64, na_value=np.nan
        ),
    }
    codec_of = codec.astype(str).to_numpy()
    out: dict[str, dict[str, npt.NDArray[Any]]] = {}
    for name in codecs:
        mine = codec_of == name
        out[name] = {c: times[c][mine & present[c]] for c in _STREAM_TIMES}
        out[name].update({c: amounts[c][mine] for c in _STREAM_AMOUNTS})
    return out


def _minus(later: pd.Series[Any], earlier: pd.Series[Any]) -> pd.Series[Any]:
    """``later - earlier`` in exact integers; missing where either is absent or 0.

    In numpy with an explicit mask: nullable-integer arithmetic in pandas cost
    more than the rest of the stream times, once per capacity level.
    """
    a, a_present = _integers(later)
    b, b_present = _integers(earlier)
    ok = a_present & b_present & (a > 0) & (b > 0)
    values = pd.arrays.IntegerArray(np.where(ok, a - b, 0), ~ok)
    return pd.Series(values, index=later.index)


def _integers(values: pd.Series[Any]) -> tuple[I64, npt.NDArray[np.bool_]]:
    """``values`` as int64 and where each is present (not NaN/NA)."""
    array = values.to_numpy()
    if array.dtype.kind in "iu":
        return array.astype(np.int64, copy=False), np.ones(len(array), bool)
    nullable = values.astype("Int64").array
    assert isinstance(nullable, pd.arrays.IntegerArray)
    present = ~nullable.isna()
    return nullable.to_numpy(np.int64, na_value=0), present


def _stream_counts(
    run: Run, sid_codec: pd.Series[str], sids_with_frames: list[str]
) -> dict[str, int]:
    """Distinct streams per codec that started at, or delivered media to, a receiver."""
    started = run.streams.loc[run.streams["start_ns"] > 0, "stream_sid"].astype(str)
    sids = pd.Index(started.unique(), dtype=object).union(
        pd.Index(sids_with_frames, dtype=object)
    )
    sids = sids[sids != ""]
    codecs = pd.Series(sids, index=sids).map(sid_codec).fillna(UNKNOWN)
    return {str(k): int(v) for k, v in codecs.value_counts().items()}


def _plots(
    run: Run,
    facts: FrameFacts,
    codecs: dict[str, Json],
    times: dict[str, dict[str, npt.NDArray[Any]]],
) -> Plots:
    """The plots' series; times from the run's first request (else first frame)."""
    origin = over_time.origin_ns(run, facts.first_arrival_ns)
    latency: dict[str, tuple[list[float], list[float], list[float]]] = {}
    streams: Line = ([], [])
    errors_bin_s, errors = 1.0, dict[str, Line]()
    harness: dict[str, tuple[list[float], list[float], list[float]]] = {}
    if origin is not None:
        shift = ((facts.first_arrival_ns or origin) - origin) / 1e9
        for codec, (xs, p50, p99) in facts.latency_over_time().items():
            latency[codec] = ([round(x + shift, 3) for x in xs], p50, p99)
        streams = over_time.streams_live(run, origin)
        end_s = max([0.0, *streams[0], *(xs[-1] for xs, _, _ in latency.values())])
        errors_bin_s, errors = over_time.errors(run, origin, end_s)
        harness = over_time.harness(run.health, origin)
    bars = {
        codec: {
            "latency_ms.p50": entry["latency_ms"]["p50"],
            "latency_ms.p99": entry["latency_ms"]["p99"],
            "jitter_ms.p50": entry["jitter_ms"]["p50"],
            "jitter_ms.p99": entry["jitter_ms"]["p99"],
            "loss_ratio": entry["loss_ratio"],
        }
        for codec, entry in codecs.items()
        if entry.get("frames") or entry.get("frames_sent")
    }
    return Plots(
        latency_percentiles=facts.cdf,
        track_percentiles=facts.track_cdf,
        time_bin_s=facts.time_bin_s,
        latency_over_time=latency,
        streams_over_time=streams,
        errors_bin_s=errors_bin_s,
        errors_over_time=errors,
        harness_over_time=harness,
        codec_bars=bars,
        **_setup_hist(times),
        limits={
            "harness.loop_cpu": CPU_SATURATED,
            "harness.lag_p99_ms": LAG_P99_SATURATED_NS / NS_PER_MS,
        },
    )


_NO_PLOTS: Final = Plots({}, {}, 1.0, {}, ([], []), 1.0, {}, {}, {}, [], {})


_LIMITED: Final = ("latency_ms", "jitter_ms", "setup_ms")


def plot_limits(gates: list[Json]) -> dict[str, float]:
    """The tightest upper limit (``<``, ``<=``) of the gates on each plotted
    per-codec metric: ``latency_ms.p99``, ``jitter_ms.p50``, ``setup_ms.p99``,
    ``loss_ratio``..., from ``performance.codecs.*`` and ``performance.tracks.*``.
    """
    out: dict[str, float] = {}
    for gate in gates:
        parts = str(gate.get("metric", "")).split(".")
        limit = gate.get("limit")
        if (
            len(parts) < 4
            or parts[:2] not in (["performance", "codecs"], ["performance", "tracks"])
            or gate.get("op") not in ("<", "<=")
            or not isinstance(limit, int | float)
        ):
            continue
        if parts[-2] in _LIMITED:
            key = ".".join(parts[-2:])
        elif parts[-1] == "loss_ratio":
            key = "loss_ratio"
        else:
            continue
        out[key] = min(out.get(key, float(limit)), float(limit))
    return out


def _setup_hist(times: dict[str, dict[str, npt.NDArray[Any]]]) -> Json:
    """Setup latency per codec binned on shared edges, for a histogram plot."""
    values = [t["setup_ms"] for t in times.values() if len(t["setup_ms"])]
    if not values:
        return {"setup_edges_ms": [], "setup_counts": {}}
    edges = np.histogram_bin_edges(np.concatenate(values) / NS_PER_MS, bins=_SETUP_BINS)
    counts = {
        codec: np.histogram(t["setup_ms"] / NS_PER_MS, bins=edges)[0].tolist()
        for codec, t in times.items()
        if len(t["setup_ms"])
    }
    return {"setup_edges_ms": edges.round(3).tolist(), "setup_counts": counts}
