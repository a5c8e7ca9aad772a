"""What every user of one Locust process shares: options, the record sink, the matrix."""

from __future__ import annotations

import dataclasses
import itertools
import os
from pathlib import Path

from harness.api import MAX_PARAMETERS, TRACKS
from harness.codecs import CODEC_NAMES
from harness.errors import ConfigError
from harness.secret import Secret
from harness.sink import RecordSink
from scenarios.matrix import Combo, StopBy, build_matrix, parse_list


__all__ = ["ScenarioContext", "context_from_options"]


@dataclasses.dataclass
class ScenarioContext:
    run_id: str
    account_sid: str
    api_token: Secret
    receiver_url: str
    bearer_token: Secret | None
    hold_s: tuple[float, float]
    matrix: list[Combo]
    sink: RecordSink | None
    producer: str
    conferences: list[str] = dataclasses.field(default_factory=list)
    _requests: itertools.count[int] = dataclasses.field(
        default_factory=lambda: itertools.count(1)
    )
    _cells: itertools.count[int] = dataclasses.field(default_factory=itertools.count)

    def next_request_id(self) -> str:
        return f"{self.producer}-{next(self._requests)}"

    def next_combo(self) -> Combo:
        """Walk the matrix round-robin across all users of this process."""
        return self.matrix[next(self._cells) % len(self.matrix)]


def _hold(text: str) -> tuple[float, float]:
    try:
        parts = [float(p) for p in text.split("-")]
    except ValueError:
        parts = []
    if len(parts) not in (1, 2) or min(parts) < 0:
        raise ConfigError(
            "--sl-hold", f"{text!r} is not a hold time", "give seconds like 2 or 1-3"
        )
    return (parts[0], parts[-1])


def context_from_options(options: object, *, record: bool) -> ScenarioContext:
    """Build the context from Locust's parsed options; ``record=False`` on a master."""
    get = options.__getattribute__
    codecs = parse_list(get("sl_codecs"))
    for codec in codecs:
        if codec not in CODEC_NAMES:
            raise ConfigError(
                "--sl-codecs",
                f"{codec!r} is not a codec",
                f"use {', '.join(CODEC_NAMES)}",
            )
    tracks = parse_list(get("sl_tracks"))
    for track in tracks:
        if track not in TRACKS:
            raise ConfigError(
                "--sl-tracks", f"{track!r} is not a track", f"use {', '.join(TRACKS)}"
            )
    try:
        counts = [int(n) for n in parse_list(get("sl_params"))]
    except ValueError:
        counts = [-1]
    if not counts or any(not 0 <= n < MAX_PARAMETERS for n in counts):
        raise ConfigError(
            "--sl-params",
            "counts must be whole numbers from 0 to 98",
            "one slot of the 99 carries the correlation parameter",
        )
    stop_by: list[StopBy] = []
    for style in parse_list(get("sl_stop_by")):
        if style not in ("sid", "name"):
            raise ConfigError(
                "--sl-stop-by",
                f"{style!r} is not a stop style",
                "use sid, name or sid,name",
            )
        stop_by.append("sid" if style == "sid" else "name")
    token = os.environ.get("SIGNALWIRE_API_TOKEN", "")
    if not token:
        raise ConfigError(
            "SIGNALWIRE_API_TOKEN", "is not set", "export the platform's API token"
        )
    receiver_url = get("sl_receiver_url")
    if not receiver_url:
        raise ConfigError(
            "--sl-receiver-url", "is required", "give the receivers' public wss:// URL"
        )
    bearer = os.environ.get("STREAMLOAD_BEARER_TOKEN", "")
    producer = f"scenario-{os.getpid()}"
    run_dir = get("sl_run_dir")
    sink = (
        RecordSink(Path(run_dir), producer, "scenario", batch_rows=5_000)
        if record and run_dir
        else None
    )
    return ScenarioContext(
        run_id=get("sl_run_id"),
        account_sid=get("sl_account_sid"),
        api_token=Secret(token),
        receiver_url=receiver_url,
        bearer_token=Secret(bearer) if bearer else None,
        hold_s=_hold(get("sl_hold")),
        matrix=build_matrix(codecs, tracks, counts, stop_by or ("sid",)),
        sink=sink,
        producer=producer,
        conferences=parse_list(get("sl_conferences")),
    )
