"""What every user of one Locust process shares: the profile, the matrix, forms, the sink.

Options come from a profile (``--sl-profile``: a built-in, a TOML file or a
run's ``profile.json``) with ``--sl-*`` flags on top, checked by
:mod:`harness.core.profiles.profile` exactly as ``streamload run`` checks them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import logging
import os
import socket
import time
from pathlib import Path

from harness.core.errors import ConfigError
from harness.core.profiles.profile import BudgetSpec, Load, Profile, apply_overrides
from harness.core.secret import Secret
from harness.io.profile_file import load_profile
from harness.io.sink import RecordSink
from scenarios.forms import Forms
from scenarios.matrix import Combo, Matrix, parse_list
from scenarios.records import ScenarioRecords


__all__ = [
    "OVERRIDES",
    "PREPARED_CELLS",
    "Budget",
    "Pacer",
    "ScenarioContext",
    "context_from_options",
]

PREPARED_CELLS = 10_000
"""Matrix cells whose forms :meth:`ScenarioContext.prepare` encodes before the load."""

OVERRIDES = {
    # Locust option attribute -> profile override key
    "sl_codecs": "codecs",
    "sl_tracks": "tracks",
    "sl_params": "params",
    "sl_param_size": "param_size",
    "sl_real_time": "real_time",
    "sl_bearer_token": "bearer_token",
    "sl_status_callback": "status_callback",
    "sl_stop_by": "stop_by",
    "sl_hold": "hold",
    "sl_wait": "wait",
    "sl_rate": "rate",
}
"""Flags that override one profile value each (the flag is ``--sl-codecs`` ...)."""


class Pacer:
    """Open-model arrivals: hand out due times ``1/rate`` apart, whoever is free.

    A user that takes a slot already in the past sends at once, and the
    request's latency still counts from the slot: a slow target cannot make
    the load generator wait politely and hide it (coordinated omission).
    """

    def __init__(self, rate: float, duration_s: float | None = None) -> None:
        self.interval_ns = round(1e9 / rate)
        self.duration_ns = None if duration_s is None else round(duration_s * 1e9)
        self.next_ns: int | None = None
        self.first_ns = 0

    def begin(self, now_ns: int) -> None:
        """Anchor the schedule at the run's start rather than at the first take.

        Locust's run time counts from the start, and the first user asks for a
        slot only once spawned; anchored at that first take, the schedule's last
        slots fell after the stop (they had been sent only while a stall on the
        users' thread, the first records flush, held the stop back). Slots due
        before the first user arrives are taken at once, their latency counted
        from when they were due.
        """
        self.first_ns = self.next_ns = now_ns

    def take(self, now_ns: int) -> int | None:
        """The next due time (the first is ``now_ns``); ``None`` past the duration.

        Locust stops a run up to a shape tick (a second) late; the schedule
        itself ends on time.
        """
        if self.next_ns is None:
            self.first_ns = self.next_ns = now_ns
        due = self.next_ns
        if self.duration_ns is not None and due - self.first_ns >= self.duration_ns:
            return None
        self.next_ns = due + self.interval_ns
        return due


class Budget:
    """This process's share of the run's caps (``[budget]``): admit a start or not.

    Several Locust processes split a cap by their worker index (the first
    ``cap % workers`` take one more stream), so together they never start
    more than the cap without talking to each other. The first refusal writes
    ``RUN_DIR/budget/<producer>.json``, which ``streamload run`` turns into a
    ``run.json`` event and the report's first section.
    """

    def __init__(
        self,
        spec: BudgetSpec,
        workers: int = 1,
        run_dir: Path | None = None,
        producer: str = "",
    ) -> None:
        self.spec = spec
        self.workers = max(1, workers)
        self.run_dir = run_dir
        self.producer = producer
        self.started = 0
        self.stream_s = 0.0
        self.reached: str | None = None
        """The cap that stopped new starts, once one did."""
        self._share: tuple[int, float] | None = None

    @property
    def capped(self) -> bool:
        return bool(self.spec.max_streams or self.spec.max_stream_minutes)

    def share(self, index: int) -> tuple[int, float]:
        """(streams, stream seconds) this process may start; 0 is no cap."""
        if self._share is None:
            i = max(0, index) % self.workers
            cap = self.spec.max_streams
            streams = cap // self.workers + (1 if i < cap % self.workers else 0)
            if cap and not streams:
                streams = -1  # a share of nothing: no start at all
            self._share = (streams, self.spec.max_stream_minutes * 60 / self.workers)
        return self._share

    def admit(self, hold_s: float, index: int = 0) -> bool:
        """Count a start of ``hold_s`` seconds, or refuse it once a cap is reached."""
        if not self.capped:
            self.started += 1
            return True
        if self.reached is not None:
            return False
        streams, seconds = self.share(index)
        if streams and self.started >= max(streams, 0):
            self._reach("max_streams")
            return False
        if seconds and self.stream_s + hold_s > seconds + 1e-9:
            self._reach("max_stream_minutes")
            return False
        self.started += 1
        self.stream_s += hold_s
        return True

    def _reach(self, cap: str) -> None:
        self.reached = cap
        if self.run_dir is None:
            return
        directory = self.run_dir / "budget"
        doc = {
            "producer": self.producer,
            "cap": cap,
            "max_streams": self.spec.max_streams,
            "max_stream_minutes": self.spec.max_stream_minutes,
            "share": list(self._share or ()),
            "started": self.started,
            "stream_minutes": round(self.stream_s / 60, 3),
            "mono_ns": time.monotonic_ns(),
        }
        try:
            directory.mkdir(parents=True, exist_ok=True)
            tmp = directory / f".{self.producer}.tmp"
            tmp.write_text(json.dumps(doc) + "\n", encoding="utf-8")
            os.replace(tmp, directory / f"{self.producer}.json")
        except OSError:
            logging.exception("streamload: cannot note the budget under %s", directory)


@dataclasses.dataclass
class ScenarioContext:
    run_id: str
    account_sid: str
    api_token: Secret
    profile: Profile
    matrix: Matrix
    forms: Forms
    sink: ScenarioRecords | None
    producer: str
    conferences: list[str] = dataclasses.field(default_factory=list)
    pacer: Pacer | None = None
    """Set in the open model: arrivals at a fixed rate."""
    budget: Budget = dataclasses.field(default_factory=lambda: Budget(BudgetSpec()))
    _requests: itertools.count[int] = dataclasses.field(
        default_factory=lambda: itertools.count(1)
    )
    _cells: itertools.count[int] = dataclasses.field(default_factory=itertools.count)

    @property
    def load(self) -> Load:
        return self.profile.load

    def next_request_id(self) -> str:
        return f"{self.producer}-{next(self._requests)}"

    def prepare(self) -> int:
        """Encode the forms of the matrix's first cells now, before any user starts.

        A cell's first request builds its encoded fields and parameter
        fingerprint (~60 µs); left to the load, the first pass over the smoke
        matrix's 2,880 cells paid it on every start (9 % of a 10 s StreamUser
        benchmark). Returns how many cells (at most :data:`PREPARED_CELLS`).
        """
        cells = min(self.matrix.cycle, PREPARED_CELLS)
        for i in range(cells):
            self.forms.fingerprint(self.matrix.combo(i))
        return cells

    def next_combo(self) -> Combo:
        """The next cell of the weighted matrix walk, shared by this process's users."""
        return self.matrix.combo(next(self._cells))


def _profile(options: object) -> Profile:
    get = options.__getattribute__
    profile = load_profile(get("sl_profile") or "default")
    flags = {
        key: (f"--{attr.replace('_', '-')}", str(value))
        for attr, key in OVERRIDES.items()
        if (value := getattr(options, attr, None)) not in (None, "")
    }
    return apply_overrides(profile, flags) if flags else profile


def _host_tag() -> str:
    """Six hex digits of this host's name, in every producer name.

    Locust workers on several hosts write into one run (docs/scale-out.md);
    their pids alone can clash, and in containers (a Kubernetes pod each)
    every worker is often the same pid, so two hosts' record parts would
    carry one name.
    """
    return hashlib.sha256(socket.gethostname().encode()).hexdigest()[:6]


def context_from_options(options: object, *, record: bool) -> ScenarioContext:
    """Build the context from Locust's parsed options; ``record=False`` on a master.

    Raises:
        ConfigError: a flag, the profile or an environment variable is wrong.
    """
    get = options.__getattribute__
    profile = _profile(options)
    values = profile.matrix.values
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
    if "on" in values["bearer_token"] and not bearer:
        raise ConfigError(
            "STREAMLOAD_BEARER_TOKEN",
            "is not set but the matrix sends bearer tokens",
            "export the token the receivers expect, or use --sl-bearer-token off",
        )
    callback_url = getattr(options, "sl_callback_url", "") or ""
    if "on" in values["status_callback"] and not callback_url:
        raise ConfigError(
            "--sl-callback-url",
            "is required when the matrix asks for status callbacks",
            "give the callback sink's https:// URL, or use --sl-status-callback off",
        )
    workers = int(getattr(options, "sl_workers", 1) or 1)
    if workers < 1:
        raise ConfigError("--sl-workers", f"{workers} is below 1", "give e.g. 2")
    producer = f"scenario-{_host_tag()}-{os.getpid()}"
    run_dir = get("sl_run_dir")
    sink = (
        ScenarioRecords(RecordSink(Path(run_dir), producer, "scenario"))
        if record and run_dir
        else None
    )
    run_id = get("sl_run_id")
    load = profile.load
    # a master never starts a stream, so never notes a cap: no record check
    budget = Budget(
        profile.budget, workers, Path(run_dir) if run_dir else None, producer
    )
    return ScenarioContext(
        run_id=run_id,
        account_sid=get("sl_account_sid"),
        api_token=Secret(token),
        profile=profile,
        matrix=Matrix(profile.matrix),
        forms=Forms(
            run_id=run_id,
            receiver_url=receiver_url,
            receiver_url_open=getattr(options, "sl_receiver_url_open", "")
            or receiver_url,
            callback_url=callback_url,
            bearer_token=Secret(bearer) if bearer else None,
        ),
        sink=sink,
        producer=producer,
        conferences=parse_list(get("sl_conferences")),
        pacer=Pacer(load.rate / workers, getattr(options, "run_time", None) or None)
        if load.model == "open"
        else None,
        budget=budget,
    )
