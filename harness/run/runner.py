"""One ``streamload run``: start the services in order, watch them, stop them in order.

Part of the CLI's I/O edge, beside :mod:`harness.run.processes` (one child each):
receivers first, then the status-callback sink and the reference platform (or
a real target), then Locust and the negative suite; at the end Locust first
(its users stop their streams), the platform (it stops any left), the sinks
and receivers (they flush), then the report step. What happened when goes to
``run.json`` for the report's "What failed and when"; the profile the run used
goes to ``profile.json``. Secrets reach children only through the environment.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from harness.core.errors import ConfigError, HarnessError
from harness.core.exits import (
    EXIT_FAIL,
    EXIT_HARNESS,
    EXIT_INTERRUPTED,
    EXIT_PASS,
    EXIT_USAGE,
)
from harness.core.knee import plan_of, run_time_s
from harness.core.profiles.profile import Profile
from harness.core.target import PROJECT_ENV, TOKEN_ENV, Target, is_loopback
from harness.io import lifeline, provenance, space
from harness.io.deploy import format_listen
from harness.io.discover import NO_CONFERENCE, DiscoveryError, discover_conferences
from harness.io.tls import make_tls
from harness.run.live_view import LiveView
from harness.run.processes import Child, kill_all, started
from harness.run.scaleout import (
    WORKERS_WAIT_S,
    ScaleOut,
    copy_parts,
    locust_master_args,
    settled_parts,
)


__all__ = ["RunOptions", "run"]

_READY_TIMEOUT_S = 60.0
_DRAIN_TIMEOUT_S = 10.0
_RECORDS_QUIET_S = 2.0
"""A remote platform's record parts are taken once none appeared for this long
(the reference platform flushes every second)."""
_RECORDS_WAIT_S = 30.0


@dataclasses.dataclass(frozen=True)
class RunOptions:
    """What a run was asked for, every value already checked by the CLI."""

    profile: Profile
    out: Path
    quiet: bool
    target: Target | None = None
    receiver_url: str = ""
    """Public wss:// URL of the receivers (a real target); else their own."""
    receiver_url_open: str = ""
    receiver_host: str = "127.0.0.1"
    receiver_port: int = 0
    receiver_open_host: str = "127.0.0.1"
    receiver_open_port: int = 0
    """The receiver for streams without a bearer token: its own address, never
    silently the next port up (0: a free one, printed)."""
    receiver_cert: Path | None = None
    receiver_key: Path | None = None
    conference_sids: str = ""
    target_ca_file: Path | None = None
    platform_records: Path | None = None
    """A remote platform's run directory (shared storage): its records, the send
    log among them, are copied into this run's before the report."""
    callback_url: str = ""
    """Public https:// URL of the status-callback sink (a real target); else ours."""
    callback_listen: bool = False
    """Start the sink on ``callback_host:callback_port`` even with ``callback_url``
    (the public URL of a terminator in front of it)."""
    callback_host: str = "127.0.0.1"
    callback_port: int = 0
    callback_cert: Path | None = None
    callback_key: Path | None = None
    services_tls: bool = True
    """False: receivers and sink serve plain ws/http behind a TLS terminator."""
    behind_proxy: bool = False
    load: bool = True
    """False for ``streamload conform``: the negative suite only."""
    scale_out: ScaleOut = dataclasses.field(default_factory=ScaleOut)
    """Receivers and Locust workers on other hosts, and their records to join."""
    metrics_listen: tuple[str, int] | None = None
    """``--metrics-listen``: serve the live media metrics for Prometheus there."""
    locust_ui: tuple[str, int] | None = None
    receiver_transport: str | None = None
    """``--receiver-transport``: the receivers' WebSocket library (None: theirs)."""
    """``--ui``: Locust's web UI (with the Media tab) there, instead of headless."""
    tags: dict[str, str] = dataclasses.field(default_factory=dict)
    """``--tag key=value`` labels, kept in ``run.json`` for the report."""


def _module_file(package: str, filename: str) -> str:
    spec = importlib.util.find_spec(package)  # locates without importing
    if spec is None or not spec.submodule_search_locations:
        raise HarnessError(f"package {package!r} is not installed")
    return str(Path(next(iter(spec.submodule_search_locations))) / filename)


def _write_json(path: Path, doc: Any) -> Path:
    """Write atomically; on a full disk under ``$TMPDIR`` (returns where)."""
    return space.write_text(path, json.dumps(doc, indent=1, sort_keys=False) + "\n")


class _Run:
    """One ``streamload run``: the children, in start order, and what happened when."""

    def __init__(self, opts: RunOptions) -> None:
        self.opts = opts
        self.profile = opts.profile
        self.run_id = opts.out.name
        self.logs = opts.out / "logs"
        self.receivers: list[Child] = []
        self.platform: Child | None = None
        self.callbacks: Child | None = None
        self.locust: Child | None = None
        self.judge: Child | None = None
        self.negative: Child | None = None
        self.conferences: list[str] = []
        self.interrupted = False
        self.stopped_at_once = False
        """A second signal ended every child at once (:class:`_Signals`)."""
        self.started = time.monotonic()
        self.events: list[dict[str, Any]] = []
        self.target_url = ""
        self.callback_url = ""
        self.env: dict[str, str] = {}
        self.negative_state: dict[str, str] = {
            "state": "on" if self.profile.conformance.negative else "off",
            "why": "",
        }
        """What became of the negative suite, for the report's unchecked rules."""
        self.discovery_failed = ""
        self.disk = space.DiskWatch(opts.out)
        """Free space in the run directory, probed while the run goes."""
        self.made_by = {
            "version": provenance.version(),
            "git_commit": provenance.git_commit(),
        }
        """Which streamload ran (``run.json``; the report's header)."""
        self.faults: list[dict[str, Any]] = []
        """Services that died or lost records (``run.json`` ``record_faults``)."""
        self.run_json = opts.out / "run.json"
        """Where ``run.json`` went (elsewhere when the run directory was full)."""
        self.live: LiveView | None = None
        """The live media figures: progress, ``live.json``, ``--metrics-listen``."""

    def open_live(self) -> None:
        """Start the live view (and its endpoint: a taken address fails the run first)."""
        self.live = LiveView(self.opts.out, self.opts.metrics_listen)
        if self.live.endpoint is not None:
            self.say(f"streamload: live metrics on {self.live.endpoint.url}")

    def tick_live(self, *, finished: bool = False) -> None:
        """Publish the receivers' latest live figures (``finished``: their last)."""
        if self.live is not None:
            self.live.tick(time.monotonic() - self.started, finished=finished)

    def say(self, text: str) -> None:
        if not self.opts.quiet:
            print(text, file=sys.stderr, flush=True)

    def event(self, what: str, kind: str = "info") -> None:
        """Note something for ``run.json`` (the report's timeline)."""
        self.events.append(
            {
                "at_s": round(time.monotonic() - self.started, 3),
                "mono_ns": time.monotonic_ns(),
                "wall_ns": time.time_ns(),  # for reports of several hosts' records
                "kind": kind,
                "what": what,
            }
        )

    def budget_caps(self) -> dict[str, Any] | None:
        """The caps and, when one stopped new starts, when and where (``run.json``).

        The Locust processes each note the cap they reached in
        ``RUN_DIR/budget/<producer>.json``; the first one is the run's event.
        """
        spec = self.profile.budget
        if not (spec.max_streams or spec.max_stream_minutes):
            return None
        notes: list[dict[str, Any]] = []
        for path in sorted((self.opts.out / "budget").glob("*.json")):
            try:
                notes.append(json.loads(path.read_text(encoding="utf-8")))
            except (OSError, ValueError):
                continue
        notes.sort(key=lambda n: int(n.get("mono_ns", 0)))
        out: dict[str, Any] = {
            "max_streams": spec.max_streams,
            "max_stream_minutes": spec.max_stream_minutes,
            "reached": notes[0]["cap"] if notes else None,
            "processes_stopped": len(notes),
        }
        if notes and not any(e.get("budget") for e in self.events):
            first = notes[0]
            mono_ns = int(first.get("mono_ns", time.monotonic_ns()))
            limit = (
                f"{spec.max_streams} streams"
                if first["cap"] == "max_streams"
                else f"{spec.max_stream_minutes:g} stream minutes"
            )
            self.events.append(
                {
                    "at_s": round(max(0.0, mono_ns / 1e9 - self.started), 3),
                    "mono_ns": mono_ns,
                    "kind": "warning",
                    "what": f"budget reached ({first['cap']}: {limit}); "
                    "new stream starts stopped",
                    "budget": first["cap"],
                }
            )
            self.events.sort(key=lambda e: float(e["at_s"]))
        return out

    def fault(self, producer: str, what: str) -> None:
        """Note that ``producer``'s records are incomplete (the report voids its gates)."""
        self.faults.append(
            {"producer": producer, "what": what, "mono_ns": time.monotonic_ns()}
        )

    def record_faults(self) -> list[dict[str, Any]]:
        """Every record fault: the disk watch's, dead services, rows lost per stats."""
        out = [*self.disk.faults, *self.faults]
        for child in (self.platform, self.callbacks, *self.receivers):
            if child is None:
                continue
            failed = child.stats.get("records_failed") or 0
            dropped = child.stats.get("records_dropped") or 0
            if failed or dropped:
                out.append(
                    {
                        "producer": child.name,
                        "what": f"{failed:,} rows failed to write, {dropped:,} "
                        "dropped (its last stats line)",
                        "mono_ns": None,
                    }
                )
        return out

    def write_run_json(self) -> None:
        load = self.profile.load
        budget = self.budget_caps()
        self.run_json = _write_json(
            self.opts.out / "run.json",
            {
                "run_id": self.run_id,
                "profile": self.profile.name,
                "profile_source": self.profile.source,
                "target": "reference" if self.opts.target is None else self.target_url,
                "model": load.model,
                "users": load.users,
                "rate": load.rate,
                "processes": load.processes,
                "receivers": load.receivers,
                "receiver_transports": {
                    r.name: str(r.ready.get("transport", ""))
                    for r in self.receivers
                    if r.ready is not None
                },
                "started_wall": time.strftime(
                    "%Y-%m-%dT%H:%M:%SZ",
                    time.gmtime(time.time() - (time.monotonic() - self.started)),
                ),
                **self.made_by,
                "tags": self.opts.tags,
                "interrupted": self.interrupted,
                "stopped_at_once": self.stopped_at_once,
                "services_tls": self.opts.services_tls,
                "load": self.opts.load,
                "negative": self.negative_state,
                "callback_sink": bool(self.callback_url),
                "signing_key": bool(self.env.get("SIGNALWIRE_SIGNING_KEY")),
                "budget": budget,
                "events": self.events,
                "record_faults": self.record_faults(),
            },
        )

    def start(self) -> None:
        opts, profile = self.opts, self.profile
        tight = space.preflight(opts.out, space.estimate_bytes(profile))
        if tight:
            self.say(f"streamload: warning: {tight}")
            self.event(tight, "warning")
        _write_json(opts.out / "profile.json", profile.document())
        if opts.target is not None and not opts.conference_sids:
            self._discover(opts.target)
        self.tls = make_tls(opts.out / "tls")
        target = opts.target
        self.env = _secrets_env(target)
        self.lifetime = str(int(profile.load.duration_s + 600))
        self.account_sid = target.project_id if target else str(uuid.uuid4())
        self._start_receivers()
        callbacks = self._start_callbacks()
        platform = self._start_platform()
        ready = [r.wait_ready(_READY_TIMEOUT_S) for r in self.receivers]
        self.callback_url = (
            str(callbacks.wait_ready(_READY_TIMEOUT_S)["url"])
            if callbacks
            else opts.callback_url
        )
        if platform is not None:
            try:
                info = platform.wait_ready(_READY_TIMEOUT_S)
            except HarnessError:
                if platform.proc.poll() == EXIT_USAGE:
                    raise ConfigError(
                        "--fault/--defect/--seed",
                        "the reference platform refused its options",
                        f"see {platform.log_path}",
                    ) from None
                raise
            self.target_url = str(info["url"])
            self.conferences = [str(c) for c in info.get("conferences", [])]
        else:
            assert target is not None
            self.target_url = target.url
            self.conferences = self.conferences or [
                c for c in opts.conference_sids.split(",") if c
            ]
        self.receiver_url = opts.receiver_url or str(ready[0]["url"])
        self.open_url = opts.receiver_url_open or (
            str(ready[1]["url"]) if len(ready) > 1 else self.receiver_url
        )
        self.say(
            f"streamload: run {self.run_id} ({profile.name}): "
            f"{'platform' if target is None else 'target'} {self.target_url}, "
            f"receiver {self.receiver_url}"
        )
        if len(ready) > 1:
            self.say(
                f"streamload: receiver for streams without a bearer token: "
                f"{self.open_url} (listening on {ready[1].get('listen', '?')})"
            )
        if self.callbacks is not None:
            self.say(f"streamload: status callbacks: {self.callback_url}")
        self.event(
            f"services ready: target {self.target_url}, receivers {self.receiver_url}"
        )
        if opts.load:
            self._start_locust()
        if profile.conformance.negative:
            self._start_negative()

    def _discover(self, target: Target) -> None:
        """In-progress conferences through the API, before anything starts.

        The load's users discover the same way (scenarios); the negative suite
        gets the first. A target with none stops the run (exit 2) instead of
        failing every start; one that cannot be asked leaves the load to find
        out, and the report says why the negative suite did not run.
        """
        try:
            found = discover_conferences(
                target.url,
                target.project_id,
                target.token,
                ca_file=self.opts.target_ca_file,
            )
        except DiscoveryError as exc:
            if exc.status in (401, 403):
                raise ConfigError(
                    f"{PROJECT_ENV}/{TOKEN_ENV}",
                    f"the target refused them (HTTP {exc.status} listing conferences)",
                    "check the project id and the API token",
                ) from None
            self.discovery_failed = (
                f"conference discovery failed: {exc.problem} (give --conference-sids)"
            )
            self.event(self.discovery_failed, "warning")
            return
        if not found:
            self.event(NO_CONFERENCE[0], "failure")
            raise ConfigError("--conference-sids", *NO_CONFERENCE)
        self.conferences = found
        self.event(f"conferences discovered: {len(found)} in progress")

    def _service_flags(self, cert: Path | None, key: Path | None) -> list[str]:
        """TLS flags shared by receivers and the sink (``--services-tls``)."""
        opts = self.opts
        if not opts.services_tls:
            return ["--tls", "off", *(["--behind-proxy"] if opts.behind_proxy else [])]
        argv = [
            "--cert-file", str(cert or self.tls.cert_file),
            "--key-file", str(key or self.tls.key_file),
        ]  # fmt: skip
        return argv + (["--behind-proxy"] if opts.behind_proxy else [])

    def _start_receivers(self) -> None:
        opts, load = self.opts, self.profile.load
        if opts.scale_out.remote_receivers:
            self.event(f"receivers on other hosts, behind {opts.receiver_url}")
            return
        wanted = [("receiver-0", opts.receiver_host, opts.receiver_port)]
        if "off" in self.profile.matrix.values["bearer_token"] and opts.load:
            wanted.append(
                ("receiver-open", opts.receiver_open_host, opts.receiver_open_port)
            )
        for i, (name, host, port) in enumerate(wanted):
            argv = [
                "-m", "receivers", "--listen", format_listen(host, port),
                *self._service_flags(opts.receiver_cert, opts.receiver_key),
                "--run-dir", str(opts.out),
                "--producer", name, "--stats-interval", "0.5",
                "--max-duration", self.lifetime,
            ]  # fmt: skip
            if load.receivers > 1:
                argv += ["--processes", str(load.receivers)]
            if opts.receiver_transport is not None:
                argv += ["--transport", opts.receiver_transport]
            # the open receiver takes streams without a bearer token
            env = self.env if i == 0 else {**self.env, "STREAMLOAD_BEARER_TOKEN": ""}
            feed = self.live.feeder(name) if self.live is not None else None
            self.receivers.append(
                Child(name, argv, log_dir=self.logs, env=env, on_stats=feed)
            )

    def _start_callbacks(self) -> Child | None:
        """The status-callback sink, when anything asks for callbacks and none is given.

        With ``--callback-listen`` it starts behind the public ``--callback-url``;
        with a URL alone the user runs the sink (``streamload callbacks``).
        """
        profile, opts = self.profile, self.opts
        wanted = (
            "on" in profile.matrix.values["status_callback"]
            or profile.conformance.negative
        )
        if not wanted or (opts.callback_url and not opts.callback_listen):
            return None
        if opts.target is not None and not opts.target.loopback:
            if not opts.callback_listen:
                return None  # a remote platform cannot reach it; _run_options checked
        argv = [
            "-m", "receivers.callbacks",
            "--listen", format_listen(opts.callback_host, opts.callback_port),
            *self._service_flags(opts.callback_cert, opts.callback_key),
            "--run-dir", str(opts.out),
            "--producer", "callbacks", "--stats-interval", "0.5",
            "--max-duration", self.lifetime,
        ]  # fmt: skip
        if opts.callback_url:
            argv += ["--public-url", opts.callback_url]
            path = urlsplit(opts.callback_url).path
            if path and path != "/":
                argv += ["--path", path]
        self.callbacks = Child("callbacks", argv, log_dir=self.logs, env=self.env)
        return self.callbacks

    def _start_platform(self) -> Child | None:
        if self.opts.target is not None:
            return None
        profile, tls = self.profile, self.tls
        argv = [
            "-m", "harness.platform", "--host", "127.0.0.1", "--port", "0",
            "--cert-file", str(tls.cert_file), "--key-file", str(tls.key_file),
            "--ca-file", str(tls.ca_file), "--validate-certificate",
            "--run-dir", str(self.opts.out), "--account-sid", self.account_sid,
            "--conferences", str(profile.load.conferences),
            "--stats-interval", "0.5", "--max-duration", self.lifetime,
        ]  # fmt: skip
        for fault in profile.platform.faults:
            argv += ["--fault", fault]
        for defect in profile.platform.defects:
            argv += ["--defect", defect]
        if profile.platform.seed is not None:
            argv += ["--seed", str(profile.platform.seed)]
        if profile.platform.processes > 1:
            argv += ["--workers", str(profile.platform.processes)]
        for address in self._dial_addresses():
            argv += ["--allow-dial", address]
        self.platform = Child("platform", argv, log_dir=self.logs, env=self.env)
        return self.platform

    def _dial_addresses(self) -> list[str]:
        """What the embedded platform must be allowed to dial besides loopback:
        the hosts of the run's receivers and callback sink (it dials nothing else)."""
        opts = self.opts
        hosts: list[tuple[str, int | None]] = [
            (opts.receiver_host, None),
            (opts.receiver_open_host, None),
            (opts.callback_host, None),
        ]
        for url in (opts.receiver_url, opts.receiver_url_open, opts.callback_url):
            if url:
                parts = urlsplit(url)
                hosts.append((parts.hostname or "", parts.port))
        out: list[str] = []
        for host, port in hosts:
            if not host or is_loopback(host) or host in ("0.0.0.0", "::"):
                continue
            shown = f"[{host}]" if ":" in host else host
            address = f"{shown}:{port}" if port else shown
            if address not in out:
                out.append(address)
        return out

    def _start_locust(self) -> None:
        opts, load = self.opts, self.profile.load
        stop_timeout = int(load.hold_s[1] + 10)
        spawn = load.spawn_rate or float(load.users)
        run_time = load.duration_s
        capacity = self.profile.capacity
        plan = plan_of(capacity, load.shape, load.users, load.duration_s)
        if capacity.enabled and plan.driven:
            # levels wait for their verdicts: the judge, and time for the waits
            run_time = run_time_s(
                load.duration_s, load.shape.every_s, capacity.settle_s
            )
            argv = ["-m", "reports.judge", str(opts.out)]
            self.judge = Child("judge", argv, log_dir=self.logs, env=self.env)
            self.event(
                f"capacity search: {capacity.search}, stop at the {capacity.stop}"
            )
        argv = [
            "-m", "locust", "-f", _module_file("scenarios", "locustfile.py"),
            *self._locust_ui(), "--host", self.target_url,
            "--users", str(load.users), "--spawn-rate", f"{spawn:g}",
            "--run-time", f"{max(1, round(run_time))}s",
            "--stop-timeout", str(stop_timeout),
            "--only-summary", "--loglevel", "WARNING", "--exit-code-on-error", "0",
            "--html", str(opts.out / "locust.html"),
            "--sl-profile", str(opts.out / "profile.json"),
            "--sl-run-dir", str(opts.out), "--sl-run-id", self.run_id,
            "--sl-account-sid", self.account_sid,
            "--sl-receiver-url", self.receiver_url,
            "--sl-receiver-url-open", self.open_url,
            "--sl-workers", str(load.processes),
        ]  # fmt: skip
        if opts.scale_out.workers_listen is not None:
            argv += locust_master_args(opts.scale_out, load.processes)
            self.say(
                f"streamload: Locust master waits for {load.processes} worker(s) at "
                f"{format_listen(*opts.scale_out.workers_listen)} (docs/scale-out.md)"
            )
        elif load.processes > 1:
            # Locust's master binds every interface on port 5557 by default, so two
            # runs on one host collide and the workers' port is open to the network:
            # a free loopback port for each run instead.
            port = str(_free_loopback_port())
            argv += ["--processes", str(load.processes)]
            argv += ["--master-bind-host", "127.0.0.1", "--master-bind-port", port]
            argv += ["--master-host", "127.0.0.1", "--master-port", port]
        ca_file = self.tls.ca_file if opts.target is None else opts.target_ca_file
        if ca_file is not None:
            argv += ["--sl-ca-file", str(ca_file)]
        if opts.conference_sids:
            argv += ["--sl-conferences", opts.conference_sids]
        if self.callback_url:
            argv += ["--sl-callback-url", self.callback_url]
        self.locust = Child(
            "locust", argv, log_dir=self.logs, env=self.env, json_lines=False
        )
        remote = " on other hosts" if opts.scale_out.workers_listen else ""
        self.event(
            f"load started: {load.model} model, {load.users} users, "
            f"{load.processes} process(es){remote}"
        )
        if self.judge is not None:  # started first, ready while Locust starts
            self.judge.wait_ready(_READY_TIMEOUT_S)
        self.budget = run_time + stop_timeout + 60
        if opts.scale_out.workers_listen is not None:
            self.budget += WORKERS_WAIT_S

    def _locust_ui(self) -> list[str]:
        """``--headless``, or with ``--ui`` the web UI there, starting and quitting
        on its own as headless does (Locust's ``--autostart``, ``--autoquit``)."""
        if self.opts.locust_ui is None:
            return ["--headless"]
        host, port = self.opts.locust_ui
        self.say(f"streamload: Locust's web UI on http://{format_listen(host, port)}")
        return [
            "--autostart", "--autoquit", "0",
            "--web-host", host, "--web-port", str(port),
        ]  # fmt: skip

    def _start_negative(self) -> None:
        """One pass of the negative suite (``python -m harness.conform``) beside the load."""
        opts = self.opts
        if not self.conferences:
            why = self.discovery_failed or "no conference sid (give --conference-sids)"
            self.negative_state = {"state": "skipped", "why": why}
            self.event(f"negative suite skipped: {why}", "warning")
            return
        argv = [
            "-m", "harness.conform", "--url", self.target_url,
            "--account-sid", self.account_sid, "--conference", self.conferences[0],
            "--run-dir", str(opts.out), "--run-id", f"{self.run_id}-negative",
            "--stream-url", self.receiver_url,
        ]  # fmt: skip
        ca_file = self.tls.ca_file if opts.target is None else opts.target_ca_file
        if ca_file is not None:
            argv += ["--ca-file", str(ca_file)]
        if self.callback_url:
            argv += ["--status-callback", self.callback_url]
        else:
            self.event(
                "negative suite: status callbacks not checked (no sink the platform "
                "can reach; give --callback-listen and --callback-url)",
                "warning",
            )
        self.negative = Child(
            "negative", argv, log_dir=self.logs, env=self.env, json_lines=False
        )
        self.negative_state = {"state": "started", "why": ""}
        self.event("negative suite started")

    def watch(self) -> None:
        """Show progress until the load (and the negative suite) end."""
        started = time.monotonic()
        budget = getattr(self, "budget", 120.0)
        every = 2.0 if sys.stderr.isatty() else 5.0
        next_line = started + every
        busy = [c for c in (self.locust, self.negative) if c is not None]
        while busy:
            for child in list(busy):
                code = child.wait(0.1)
                if code is None:
                    continue
                busy.remove(child)
                if child is self.negative:
                    kind = "failure" if code not in (0, 1) else "info"
                    self.negative_state = {
                        "state": "ran" if code in (0, 1) else "failed",
                        "why": f"exit {code}",
                    }
                    self.event(f"negative suite finished (exit {code})", kind)
                elif code < 0:  # killed: the load did not run its course
                    what = f"locust ended by signal {-code}; see {child.log_path}"
                    self.event(what, "failure")
                    raise HarnessError(what)
                else:
                    self.event(f"load finished (locust exit {code})")
            now = time.monotonic()
            self.tick_live()
            full = len(self.disk.faults)
            self.disk.poll(time.monotonic_ns())
            if len(self.disk.faults) > full:
                self.say(f"streamload: warning: {self.disk.faults[-1]['what']}")
            for service in (self.platform, self.callbacks, *self.receivers):
                if service is not None and not service.alive():
                    what = (
                        f"{service.name} exited early (code {service.proc.poll()}); "
                        f"see {service.log_path}"
                    )
                    self.event(what, "failure")
                    self.fault(
                        service.name, f"exited early (code {service.proc.poll()})"
                    )
                    raise HarnessError(what)
            if now - started > budget:
                late = ", ".join(c.name for c in busy)
                raise HarnessError(
                    f"{late} did not finish in {budget:.0f}s; see {self.logs}"
                )
            if now >= next_line and busy:
                next_line = now + every
                self.say(self._progress(now - started))

    def _progress(self, elapsed: float) -> str:
        r: dict[str, int] = {}
        for child in self.receivers:
            for k in ("frames", "violations", "streams_open", "streams"):
                value = child.stats.get(k, 0)
                r[k] = r.get(k, 0) + (value if isinstance(value, int) else 0)
        head = f"[{elapsed:5.1f}s/{self.profile.load.duration_s:.0f}s]"
        lost = sum(
            int(c.stats.get("records_failed") or 0)
            + int(c.stats.get("records_dropped") or 0)
            for c in (self.platform, self.callbacks, *self.receivers)
            if c is not None
        )
        if lost:  # the harness's own loss, said as it happens
            head += f" records incomplete: {lost:,} rows not recorded |"
        return self._counts_line(head, r) + (
            f"\n{'':{len(head)}} {self.live.line()}" if self.live is not None else ""
        )

    def _counts_line(self, head: str, r: dict[str, int]) -> str:
        if self.platform is None and not self.receivers:
            return f"{head} load running (platform and receivers on other hosts)"
        if self.platform is None:
            return (
                f"{head} receivers: streams {r.get('streams_open', 0)} open | "
                f"frames received {r.get('frames', 0):,} | violations {r.get('violations', 0)}"
            )
        p = self.platform.stats
        return (
            f"{head} streams {p.get('streams_active', 0)} live, "
            f"{p.get('streams_total', 0)} started | frames sent {p.get('frames_sent', 0):,}, "
            f"received {r.get('frames', 0):,} | violations {r.get('violations', 0)}"
        )

    def join_records(self) -> None:
        """Copy the records of services on other hosts into this run, once they settle.

        The remote platform's (``--platform-records``) and every ``--join-records``
        directory's: those services are not ours to stop, so their last rows
        reach their directories on their own flushes; the copy waits until no
        part has appeared for :data:`_RECORDS_QUIET_S` (at most
        :data:`_RECORDS_WAIT_S`). Parts keep their producers' names; one whose
        name another host's part holds is a record fault, not an overwrite.
        """
        opts = self.opts
        sources = [*opts.scale_out.join_records]
        if opts.platform_records is not None:
            sources.insert(0, opts.platform_records)
        if not sources:
            return
        found = settled_parts(sources, quiet_s=_RECORDS_QUIET_S, wait_s=_RECORDS_WAIT_S)
        for source, parts in found.items():
            joined = copy_parts(parts, opts.out)
            for problem in joined.failed:
                self.event(f"record not copied: {problem}", "failure")
            if joined.collided:
                what = (
                    f"{len(joined.collided)} record part(s) in {source} share a name "
                    f"with another host's (give each service its own --producer), "
                    f"e.g. {joined.collided[0]}"
                )
                self.event(what, "failure")
                self.fault(str(source), what)
            which = "platform records" if source == opts.platform_records else "records"
            if joined.copied:
                self.event(f"{which} joined: {joined.copied} part(s) from {source}")
            elif not parts:
                self.event(
                    f"{which}: none found in {source}/records"
                    + (" (the report has no send log)" if which != "records" else ""),
                    "warning",
                )

    def drain_and_stop(self) -> None:
        """Stop in dependency order so every started stream is stopped and recorded.

        Locust first (its users stop their streams), then the platform (it stops
        any left), then the receivers (they flush). A failure stopping one child
        never leaves the others running.
        """
        steps: list[tuple[Child | None, str | None, signal.Signals]] = [
            (self.locust, None, signal.SIGINT),
            (self.judge, None, signal.SIGTERM),
            (self.negative, None, signal.SIGTERM),
            (self.platform, "streams_active", signal.SIGTERM),
            (self.callbacks, None, signal.SIGTERM),
            *((r, "streams_open", signal.SIGTERM) for r in self.receivers),
        ]
        for child, busy_stat, sig in steps:
            if child is None:
                continue
            try:
                if busy_stat is not None:
                    left = self._wait_stat(child, busy_stat)
                    if left and busy_stat == "streams_open":
                        self.event(
                            f"{child.name}: {left} stream(s) still open "
                            f"{_DRAIN_TIMEOUT_S:.0f} s into the drain, closed by the "
                            "receiver; WS-STOP-001 not checked for those not stopped",
                            "warning",
                        )
                code = child.stop(30, sig)
                if code not in (0, None) and child not in (self.locust, self.negative):
                    self.event(f"{child.name} exited with code {code}", "failure")
                    if child is not self.judge:
                        self.fault(child.name, f"exited with code {code}")
            except Exception as exc:  # keep stopping the rest, then report
                print(
                    f"streamload: could not stop {child.name} cleanly: {exc}",
                    file=sys.stderr,
                )
                child.send(signal.SIGKILL)
        for child in started():  # started, but a signal came before it was kept
            self.event(f"{child.name} stopped (interrupted while starting)")
            child.stop(10)

    @staticmethod
    def _wait_stat(child: Child, key: str) -> int:
        """Wait (at most the drain timeout) for ``key`` to reach 0; what is left."""
        deadline = time.monotonic() + _DRAIN_TIMEOUT_S
        while child.alive() and child.stats.get(key, 0) and time.monotonic() < deadline:
            time.sleep(0.1)
        return int(child.stats.get(key, 0)) if child.alive() else 0


class _Signals:
    """SIGINT and SIGTERM during a run: the first stops it in order, any later one at once.

    The first signal (Ctrl-C, a CI runner's cancel) breaks out of the start or
    the load, and is only noted once the drain or the report has begun: the
    drain completes, the report is written, the exit is 130. Any further
    signal (SIGTERM a moment after SIGINT, as CI runners escalate, or Ctrl-C
    twice) kills every child's process group at once, the report step's
    included; the drain then has nothing left to wait for, ``run.json`` says
    ``stopped_at_once``, and a report is written from the records on disk
    (itself ended by yet another signal). The handler only sets flags and
    sends signals: printing here could re-enter a write the main thread is in.
    """

    def __init__(self, run: _Run) -> None:
        self.run = run
        self.count = 0
        self.first = ""
        self.raising = False
        """True while the start or the load runs: the first signal interrupts them."""
        self.report: subprocess.Popen[bytes] | None = None
        self.report_killed = False

    def __call__(self, signum: int, _frame: object) -> None:
        self.count += 1
        name = signal.Signals(signum).name
        self.run.interrupted = True
        if self.count == 1:
            self.first = name
            if self.raising:
                self.raising = False
                raise KeyboardInterrupt
            self.run.event(
                f"{name}: interrupted; the drain and the report go on", "failure"
            )
            return
        if not self.run.stopped_at_once:
            self.run.stopped_at_once = True
            self.run.event(
                f"{name} after {self.first}: every process of the run ended at once; "
                "records of the last moments may be missing",
                "failure",
            )
        kill_all()
        self.kill_report()

    def kill_report(self) -> None:
        report = self.report
        if report is not None and report.returncode is None:
            self.report_killed = True
            try:
                os.killpg(report.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


def _report(out: Path, quiet: bool, stops: _Signals) -> int:
    """``python -m reports`` in its own session, tied to us: our signals decide its fate."""
    argv = [sys.executable, "-m", "reports", str(out)] + (["--quiet"] if quiet else [])
    before = max(stops.count, 1)
    stops.report = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **lifeline.child_env()},
        start_new_session=True,
    )
    if stops.count > before:  # a signal came while it started: as if it ran
        stops.kill_report()
    return stops.report.wait()


def run(opts: RunOptions) -> int:
    """Run ``opts`` end to end; return the exit code (the report decides 0 or 1)."""
    run = _Run(opts)
    stops = _Signals(run)
    handled = (signal.SIGINT, signal.SIGTERM)
    previous = {signum: signal.getsignal(signum) for signum in handled}
    failure: str | None = None
    usage: ConfigError | None = None
    try:
        stops.raising = True
        for signum in handled:
            signal.signal(signum, stops)
        run.open_live()
        run.start()
        run.watch()
        stops.raising = False
    except KeyboardInterrupt:
        run.event(f"{stops.first or 'SIGINT'}: interrupted", "failure")
        run.say("streamload: interrupted; stopping streams and writing the report")
    except ConfigError as exc:
        usage = exc
    except HarnessError as exc:
        failure = str(exc)
    finally:
        stops.raising = False
        try:
            run.drain_and_stop()
            run.tick_live(finished=True)  # every receiver's last line is in
        finally:
            if usage is None and not run.stopped_at_once:
                run.join_records()
            run.disk.poll(time.monotonic_ns(), force=True)  # one last probe
            try:
                run.write_run_json()
            except OSError as exc:  # no room here nor in $TMPDIR
                failure = f"cannot write run.json anywhere: {exc}"
    try:
        return _finish(run, stops, usage, failure)
    finally:
        if run.live is not None:  # served until the report is written
            run.live.close()
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _finish(
    run: _Run, stops: _Signals, usage: ConfigError | None, failure: str | None
) -> int:
    """Say what stopped the run, write the report, and pick the exit code."""
    opts = run.opts
    if usage is not None:
        print(f"streamload run: {usage}", file=sys.stderr)
        return EXIT_USAGE
    if failure is not None:
        print(f"streamload: {failure}", file=sys.stderr)
    if run.stopped_at_once:
        print(
            "streamload: stopped at once (a second signal): every process of the run "
            "was ended; the report is written from the records on disk",
            file=sys.stderr,
            flush=True,
        )
    moved = run.run_json.parent != opts.out
    if moved:
        print(
            f"streamload: {opts.out} is full: run.json and the report are in "
            f"{run.run_json.parent}",
            file=sys.stderr,
            flush=True,
        )
    if run.interrupted and not any((opts.out / "records").glob("*/*.parquet")):
        print(
            "streamload: interrupted before anything was recorded: no report",
            file=sys.stderr,
        )
        print(f"streamload: run directory {opts.out}", flush=True)
        return EXIT_INTERRUPTED
    recorded = (run.interrupted, run.stopped_at_once)
    code = _report(opts.out, opts.quiet, stops)
    if (run.interrupted, run.stopped_at_once) != recorded:  # signals during the report
        try:
            run.write_run_json()
        except OSError as exc:
            failure = f"cannot write run.json anywhere: {exc}"
    if stops.report_killed:
        print(
            f"streamload: the report was cut short by a signal; "
            f"write it with: streamload report {opts.out}",
            file=sys.stderr,
        )
    print(f"streamload: run directory {opts.out}", flush=True)
    if moved:
        print(f"streamload: report directory {run.run_json.parent}", flush=True)
    if stops.report_killed or run.stopped_at_once:
        # stopped at once by a second signal: records cut short by our own hand
        # (the report says so) are the interruption's, not the harness's failure
        return EXIT_INTERRUPTED
    if failure is not None or moved or code not in (EXIT_PASS, EXIT_FAIL):
        return EXIT_HARNESS
    return EXIT_INTERRUPTED if run.interrupted else code


def _secrets_env(target: Target | None) -> dict[str, str]:
    """The secrets the services need, for their environment (never argv).

    Secrets reach children through the environment, never argv: argv shows
    in process lists and logs.
    """
    api_token = (
        target.token.reveal()
        if target is not None
        else os.environ.get("STREAMLOAD_PLATFORM_TOKEN") or secrets.token_urlsafe(24)
    )
    bearer = os.environ.get("STREAMLOAD_BEARER_TOKEN") or secrets.token_urlsafe(24)
    # Callbacks are signed (contract §4) so CB-004 is checked: a random key per
    # embedded run; against a real target only the user's own key.
    signing_key = os.environ.get("SIGNALWIRE_SIGNING_KEY") or (
        "" if target is not None else secrets.token_urlsafe(24)
    )
    return {
        "SIGNALWIRE_API_TOKEN": api_token,
        "STREAMLOAD_BEARER_TOKEN": bearer,
        "SIGNALWIRE_SIGNING_KEY": signing_key,
    }


def _free_loopback_port() -> int:
    """A TCP port free on 127.0.0.1 now (Locust binds it a moment later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port
