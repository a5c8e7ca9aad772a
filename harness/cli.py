"""``streamload``: run a load test end to end, compare runs, or serve one part of it.

The CLI orchestrates processes and imports none of them (architecture.md):
the reference platform (``python -m harness.platform``), receivers
(``python -m receivers``), Locust (``scenarios/locustfile.py``), the report
(``python -m reports``) and the comparison (``python -m reports.compare``) each
run in their own process. What a run does comes from a profile
(:mod:`harness.profile`), checked in full before anything starts.

Exit codes: 0 pass, 1 a gate failed, 2 usage or configuration error,
3 the harness itself failed, 130 interrupted (after the report is written).
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from harness.errors import ConfigError, HarnessError
from harness.processes import Child
from harness.profile import BUILTIN, Profile, apply_overrides, load_profile
from harness.target import Target, parse_target, parse_wss_url
from harness.tls import make_tls


__all__ = ["main"]

EXIT_PASS, EXIT_FAIL, EXIT_USAGE, EXIT_HARNESS, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
_READY_TIMEOUT_S = 60.0
_DRAIN_TIMEOUT_S = 10.0

_RUN_FLAGS: tuple[tuple[str, str, str], ...] = (
    # (flag, profile override key, help)
    (
        "--users",
        "users",
        "concurrent users (closed model), or most streams in flight (open)",
    ),
    ("--rate", "rate", "open model: stream starts per second, all processes together"),
    ("--spawn-rate", "spawn_rate", "users started per second (0: all at once)"),
    ("--duration", "duration", "how long the load runs (30s, 2m, 1h)"),
    ("--hold", "hold", "seconds each stream stays open: N or MIN-MAX"),
    ("--wait", "wait", "closed model: seconds between a stop and the next start"),
    ("--conferences", "conferences", "conferences the reference platform hosts"),
    (
        "--processes",
        "processes",
        "Locust worker processes (a master joins them when > 1)",
    ),
    ("--receiver-processes", "receivers", "receiver processes sharing one port"),
    ("--codecs", "codecs", "StreamCodec values, e.g. PCMU,L16@16000h"),
    ("--tracks", "tracks", "Track values"),
    ("--params", "params", "custom parameter counts, e.g. 0,1,10,98"),
    ("--param-size", "param_size", "short, long, or short,long"),
    ("--real-time", "real_time", "StreamRealTime: omit,true,false"),
    ("--bearer-token", "bearer_token", "AuthorizationBearerToken: on,off"),
    ("--status-callback", "status_callback", "StatusCallback: off,on"),
    ("--stop-by", "stop_by", "stop streams by sid, name or both"),
    ("--seed", "seed", "reference platform: seed for --fault draws"),
)


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line that names the fix."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: {message}; see '{self.prog} --help'\n")


@dataclasses.dataclass(frozen=True)
class RunOptions:
    profile: Profile
    out: Path
    quiet: bool
    target: Target | None = None
    receiver_url: str = ""
    """Public wss:// URL of the receivers (a real target); else their own."""
    receiver_url_open: str = ""
    receiver_host: str = "127.0.0.1"
    receiver_port: int = 0
    receiver_cert: Path | None = None
    receiver_key: Path | None = None
    conference_sids: str = ""
    target_ca_file: Path | None = None
    callback_url: str = ""
    """Public https:// URL of the status-callback sink (a real target); else ours."""
    load: bool = True
    """False for ``streamload conform``: the negative suite only."""


def _add_run_flags(run: argparse.ArgumentParser) -> None:
    run.add_argument(
        "--profile",
        default=None,
        help=f"built-in ({', '.join(BUILTIN)}) or a .toml file; flags override it",
    )
    load = run.add_argument_group("load and matrix (override the profile)")
    for flag, _, what in _RUN_FLAGS:
        load.add_argument(flag, default=None, help=what)
    load.add_argument(
        "--threshold",
        action="append",
        default=[],
        metavar="KEY=COND",
        help="add or replace a gate, e.g. 'jitter_ms.p99{codec=PCMU}=< 5' (repeatable)",
    )
    load.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="reference platform impairment, e.g. delay=5ms, api-error=0.01 (repeatable)",
    )
    load.add_argument(
        "--negative",
        default=None,
        choices=("on", "off"),
        help="one pass of the negative suite (invalid requests) during the run",
    )
    load.add_argument(
        "--defect",
        action="append",
        default=[],
        metavar="NAME",
        help="reference platform contract defect (repeatable)",
    )
    real = run.add_argument_group("real platform")
    real.add_argument(
        "--target",
        default=None,
        help="platform base URL, e.g. https://SPACE.signalwire.com; credentials from "
        "SIGNALWIRE_PROJECT_ID and SIGNALWIRE_API_TOKEN",
    )
    real.add_argument("--target-ca-file", default=None, help="CA to trust for --target")
    real.add_argument(
        "--receiver-url",
        default=None,
        help="public wss:// URL that reaches the receivers (required off loopback)",
    )
    real.add_argument(
        "--receiver-url-open",
        default=None,
        help="public wss:// URL of the receiver that takes streams without a bearer token",
    )
    real.add_argument(
        "--receiver-listen",
        default=None,
        metavar="HOST:PORT",
        help="where receivers listen (default 127.0.0.1 and a free port)",
    )
    real.add_argument(
        "--receiver-cert", default=None, help="receivers' TLS certificate"
    )
    real.add_argument("--receiver-key", default=None, help="receivers' TLS key")
    real.add_argument(
        "--conference-sids",
        default="",
        help="comma-separated conference sids (default: discover in-progress ones)",
    )
    real.add_argument(
        "--callback-url",
        default=None,
        help="public https:// URL of the status-callback sink",
    )
    run.add_argument(
        "--out", default=None, help="run directory (default: runs/<run id>)"
    )
    run.add_argument("--quiet", action="store_true", help="no progress lines")


def _parser() -> _Parser:
    parser = _Parser(
        prog="streamload", description=__doc__.split("\n")[0] if __doc__ else None
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    run = sub.add_parser("run", help="run a load test and write its report")
    _add_run_flags(run)
    cap = sub.add_parser(
        "capacity",
        help="step concurrent streams up until a gate breaks (run --profile capacity)",
    )
    _add_run_flags(cap)
    conform = sub.add_parser(
        "conform",
        help="no load: the negative suite and a few streams, rule by rule (--profile conform)",
    )
    _add_run_flags(conform)
    check = sub.add_parser(
        "check", help="check a profile and list its gates, starting nothing"
    )
    check.add_argument("profile", help="a built-in name or a .toml file")
    for name, what in (
        (
            "compare",
            "compare two runs: per-codec deltas, regressions (python -m reports.compare)",
        ),
        ("platform", "serve the reference platform (python -m harness.platform)"),
        ("receive", "serve receivers (python -m receivers)"),
        ("report", "build the report of a run directory (python -m reports)"),
    ):
        p = sub.add_parser(name, help=what, add_help=False)
        p.add_argument("args", nargs=argparse.REMAINDER)
    return parser


def _resolve(ns: argparse.Namespace, default_profile: str) -> Profile:
    """The profile with every flag applied; every mistake raises before a start."""
    profile = load_profile(ns.profile or default_profile)
    flags: dict[str, tuple[str, str]] = {
        key: (flag, str(getattr(ns, flag[2:].replace("-", "_"))))
        for flag, key, _ in _RUN_FLAGS
        if getattr(ns, flag[2:].replace("-", "_")) is not None
    }
    if ns.negative is not None:
        flags["negative"] = ("--negative", ns.negative)
    for key, flag in (
        ("threshold", "--threshold"),
        ("fault", "--fault"),
        ("defect", "--defect"),
    ):
        values = getattr(ns, key)
        if values:
            flags[key] = (flag, "\n".join(values))
    profile = apply_overrides(profile, flags) if flags else profile
    profile.gates()  # compile every gate now: a typo must not wait for the report
    return profile


def _run_options(ns: argparse.Namespace, default_profile: str) -> RunOptions:
    profile = _resolve(ns, default_profile)
    target = parse_target(ns.target, os.environ) if ns.target else None
    if target is not None and (profile.platform.faults or profile.platform.defects):
        raise ConfigError(
            "--fault/--defect",
            "impair the reference platform only",
            "drop them when using --target",
        )
    receiver_url = (
        parse_wss_url("--receiver-url", ns.receiver_url) if ns.receiver_url else ""
    )
    if target is not None and not target.loopback and not receiver_url:
        raise ConfigError(
            "--receiver-url",
            "is required with a remote --target",
            "give the public wss:// URL that reaches this machine's receivers "
            "(e.g. through a TLS tunnel)",
        )
    open_url = (
        parse_wss_url("--receiver-url-open", ns.receiver_url_open)
        if ns.receiver_url_open
        else ""
    )
    if receiver_url and "off" in profile.matrix.values["bearer_token"] and not open_url:
        raise ConfigError(
            "--receiver-url-open",
            "the matrix sends streams without a bearer token, which the receiver refuses",
            "give a second public URL for the open receiver, or use --bearer-token on",
        )
    host, port = "127.0.0.1", 0
    if ns.receiver_listen:
        host, _, port_text = ns.receiver_listen.rpartition(":")
        if not host or not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
            raise ConfigError(
                "--receiver-listen",
                f"{ns.receiver_listen!r} is not HOST:PORT",
                "give e.g. 0.0.0.0:8443",
            )
        port = int(port_text)
    remote = target is not None and not target.loopback
    if (
        "on" in profile.matrix.values["status_callback"]
        and remote
        and not ns.callback_url
    ):
        raise ConfigError(
            "--callback-url",
            "the matrix asks for status callbacks, which a remote platform cannot "
            "deliver to this machine's loopback",
            "give the public https:// URL of the callback sink, or use --status-callback off",
        )
    callback_url = ""
    if ns.callback_url:
        callback_url = ns.callback_url
        if not callback_url.startswith("https://"):
            raise ConfigError(
                "--callback-url",
                f"{callback_url!r} is not https://",
                "give an https:// URL",
            )
    files = {}
    for flag, value in (
        ("--receiver-cert", ns.receiver_cert),
        ("--receiver-key", ns.receiver_key),
        ("--target-ca-file", ns.target_ca_file),
    ):
        if value and not Path(value).is_file():
            raise ConfigError(
                flag, f"{value!r} is not a file", "give a PEM file's path"
            )
        files[flag] = Path(value) if value else None
    if (ns.receiver_cert is None) != (ns.receiver_key is None):
        raise ConfigError(
            "--receiver-cert/--receiver-key",
            "only one is given",
            "give both or neither",
        )
    return RunOptions(
        profile=profile,
        out=_run_dir(ns.out),
        quiet=ns.quiet,
        target=target,
        receiver_url=receiver_url,
        receiver_url_open=open_url,
        receiver_host=host,
        receiver_port=port,
        receiver_cert=files["--receiver-cert"],
        receiver_key=files["--receiver-key"],
        conference_sids=ns.conference_sids,
        target_ca_file=files["--target-ca-file"],
        callback_url=callback_url,
        load=ns.command != "conform",
    )


def _has_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


def _run_dir(out: str | None) -> Path:
    run_id = time.strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(3)
    path = Path(out) if out else Path("runs") / run_id
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".streamload-probe"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise ConfigError(
            "--out",
            f"cannot write to {str(path)!r} ({exc.strerror})",
            "choose a writable directory",
        ) from None
    if (path / "records").exists():
        raise ConfigError(
            "--out",
            f"{str(path)!r} already holds a run",
            "choose a new directory so nothing recorded is overwritten",
        )
    return path


def _module_file(package: str, filename: str) -> str:
    spec = importlib.util.find_spec(package)  # locates without importing
    if spec is None or not spec.submodule_search_locations:
        raise HarnessError(f"package {package!r} is not installed")
    return str(Path(next(iter(spec.submodule_search_locations))) / filename)


def _write_json(path: Path, doc: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(doc, indent=1, sort_keys=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


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
        self.negative: Child | None = None
        self.conferences: list[str] = []
        self.interrupted = False
        self.started = time.monotonic()
        self.events: list[dict[str, Any]] = []
        self.target_url = ""

    def say(self, text: str) -> None:
        if not self.opts.quiet:
            print(text, file=sys.stderr, flush=True)

    def event(self, what: str, kind: str = "info") -> None:
        """Note something for ``run.json`` (the report's timeline)."""
        self.events.append(
            {
                "at_s": round(time.monotonic() - self.started, 3),
                "mono_ns": time.monotonic_ns(),
                "kind": kind,
                "what": what,
            }
        )

    def write_run_json(self) -> None:
        load = self.profile.load
        _write_json(
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
                "started_wall": time.strftime(
                    "%Y-%m-%dT%H:%M:%SZ",
                    time.gmtime(time.time() - (time.monotonic() - self.started)),
                ),
                "interrupted": self.interrupted,
                "events": self.events,
            },
        )

    def start(self) -> None:
        opts, profile = self.opts, self.profile
        _write_json(opts.out / "profile.json", profile.document())
        self.tls = make_tls(opts.out / "tls")
        target = opts.target
        # Secrets reach children through the environment, never argv: argv shows
        # in process lists and logs.
        api_token = (
            target.token.reveal()
            if target is not None
            else os.environ.get("STREAMLOAD_PLATFORM_TOKEN")
            or secrets.token_urlsafe(24)
        )
        bearer = os.environ.get("STREAMLOAD_BEARER_TOKEN") or secrets.token_urlsafe(24)
        self.env = {
            "SIGNALWIRE_API_TOKEN": api_token,
            "STREAMLOAD_BEARER_TOKEN": bearer,
        }
        self.lifetime = str(int(profile.load.duration_s + 600))
        self.account_sid = target.project_id if target else str(uuid.uuid4())
        self._start_receivers()
        callbacks = self._start_callbacks()
        platform = self._start_platform()
        ready = [r.wait_ready(_READY_TIMEOUT_S) for r in self.receivers]
        self.callback_url = opts.callback_url or (
            str(callbacks.wait_ready(_READY_TIMEOUT_S)["url"]) if callbacks else ""
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
            self.conferences = [c for c in opts.conference_sids.split(",") if c]
        self.receiver_url = opts.receiver_url or str(ready[0]["url"])
        self.open_url = opts.receiver_url_open or (
            str(ready[1]["url"]) if len(ready) > 1 else self.receiver_url
        )
        self.say(
            f"streamload: run {self.run_id} ({profile.name}): "
            f"{'platform' if target is None else 'target'} {self.target_url}, "
            f"receiver {self.receiver_url}"
        )
        self.event(
            f"services ready: target {self.target_url}, receivers {self.receiver_url}"
        )
        if opts.load:
            self._start_locust()
        if profile.conformance.negative:
            self._start_negative()

    def _start_receivers(self) -> None:
        opts, load = self.opts, self.profile.load
        cert = str(opts.receiver_cert or self.tls.cert_file)
        key = str(opts.receiver_key or self.tls.key_file)
        wanted = ["receiver-0"]
        if "off" in self.profile.matrix.values["bearer_token"] and opts.load:
            wanted.append("receiver-open")
        for i, name in enumerate(wanted):
            port = opts.receiver_port + i if opts.receiver_port else 0
            argv = [
                "-m", "receivers", "--host", opts.receiver_host, "--port", str(port),
                "--cert-file", cert, "--key-file", key, "--run-dir", str(opts.out),
                "--producer", name, "--stats-interval", "0.5",
                "--max-duration", self.lifetime,
            ]  # fmt: skip
            if load.receivers > 1:
                argv += ["--processes", str(load.receivers)]
            # the open receiver takes streams without a bearer token
            env = self.env if i == 0 else {**self.env, "STREAMLOAD_BEARER_TOKEN": ""}
            self.receivers.append(Child(name, argv, log_dir=self.logs, env=env))

    def _start_callbacks(self) -> Child | None:
        """The status-callback sink, when anything asks for callbacks and none is given."""
        profile, opts = self.profile, self.opts
        wanted = (
            "on" in profile.matrix.values["status_callback"]
            or profile.conformance.negative
        )
        if not wanted or opts.callback_url:
            return None
        if opts.target is not None and not opts.target.loopback:
            return None  # a remote platform cannot reach it; _run_options checked
        argv = [
            "-m", "receivers.callbacks", "--cert-file", str(self.tls.cert_file),
            "--key-file", str(self.tls.key_file), "--run-dir", str(opts.out),
            "--producer", "callbacks", "--stats-interval", "0.5",
            "--max-duration", self.lifetime,
        ]  # fmt: skip
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
        self.platform = Child("platform", argv, log_dir=self.logs, env=self.env)
        return self.platform

    def _start_locust(self) -> None:
        opts, load = self.opts, self.profile.load
        stop_timeout = int(load.hold_s[1] + 10)
        spawn = load.spawn_rate or float(load.users)
        argv = [
            "-m", "locust", "-f", _module_file("scenarios", "locustfile.py"),
            "--headless", "--host", self.target_url,
            "--users", str(load.users), "--spawn-rate", f"{spawn:g}",
            "--run-time", f"{max(1, round(load.duration_s))}s",
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
        if load.processes > 1:
            argv += ["--processes", str(load.processes)]
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
        self.event(
            f"load started: {load.model} model, {load.users} users, "
            f"{load.processes} process(es)"
        )
        self.budget = load.duration_s + stop_timeout + 60

    def _start_negative(self) -> None:
        """One pass of the negative suite (``python -m harness.conform``) beside the load."""
        opts = self.opts
        if not self.conferences:
            self.event(
                "negative suite skipped: no conference sid (give --conference-sids)",
                "warning",
            )
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
        self.negative = Child(
            "negative", argv, log_dir=self.logs, env=self.env, json_lines=False
        )
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
                    self.event(f"negative suite finished (exit {code})", kind)
                else:
                    self.event(f"load finished (locust exit {code})")
            now = time.monotonic()
            for service in (self.platform, self.callbacks, *self.receivers):
                if service is not None and not service.alive():
                    what = (
                        f"{service.name} exited early (code {service.proc.poll()}); "
                        f"see {service.log_path}"
                    )
                    self.event(what, "failure")
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

    def drain_and_stop(self) -> None:
        """Stop in dependency order so every started stream is stopped and recorded.

        Locust first (its users stop their streams), then the platform (it stops
        any left), then the receivers (they flush). A failure stopping one child
        never leaves the others running.
        """
        steps: list[tuple[Child | None, str | None, signal.Signals]] = [
            (self.locust, None, signal.SIGINT),
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
                    self._wait_stat(child, busy_stat)
                code = child.stop(30, sig)
                if code not in (0, None) and child not in (self.locust, self.negative):
                    self.event(f"{child.name} exited with code {code}", "failure")
            except Exception as exc:  # keep stopping the rest, then report
                print(
                    f"streamload: could not stop {child.name} cleanly: {exc}",
                    file=sys.stderr,
                )
                child.send(signal.SIGKILL)

    @staticmethod
    def _wait_stat(child: Child, key: str) -> None:
        deadline = time.monotonic() + _DRAIN_TIMEOUT_S
        while child.alive() and child.stats.get(key, 0) and time.monotonic() < deadline:
            time.sleep(0.1)


def _report(out: Path, quiet: bool) -> int:
    argv = [sys.executable, "-m", "reports", str(out)] + (["--quiet"] if quiet else [])
    return subprocess.run(argv, stdin=subprocess.DEVNULL, check=False).returncode


def _cmd_run(opts: RunOptions) -> int:
    run = _Run(opts)
    previous = signal.getsignal(signal.SIGINT)

    def interrupted(_sig: int, _frame: object) -> None:
        run.interrupted = True
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, interrupted)
    signal.signal(signal.SIGTERM, interrupted)
    failure: str | None = None
    usage: ConfigError | None = None
    try:
        run.start()
        run.watch()
    except KeyboardInterrupt:
        run.event("interrupted", "failure")
        run.say("streamload: interrupted; stopping streams and writing the report")
    except ConfigError as exc:
        usage = exc
    except HarnessError as exc:
        failure = str(exc)
    finally:
        signal.signal(
            signal.SIGINT, signal.SIG_IGN
        )  # a second Ctrl-C must not orphan children
        try:
            run.drain_and_stop()
        finally:
            signal.signal(signal.SIGINT, previous)
            run.write_run_json()
    if usage is not None:
        print(f"streamload run: {usage}", file=sys.stderr)
        return EXIT_USAGE
    if failure is not None:
        print(f"streamload: {failure}", file=sys.stderr)
    code = _report(opts.out, opts.quiet)
    print(f"streamload: run directory {opts.out}", flush=True)
    if failure is not None or code not in (EXIT_PASS, EXIT_FAIL):
        return EXIT_HARNESS
    return EXIT_INTERRUPTED if run.interrupted else code


def _cmd_check(ref: str) -> int:
    profile = load_profile(ref)
    load = profile.load
    print(f"{profile.name}: {profile.description or '(no description)'}")
    what = (
        f"{load.users} users" if load.model == "closed" else f"{load.rate:g} starts/s"
    )
    print(
        f"load: {load.model} model, {what}, {load.duration_s:g}s, shape {load.shape.kind}"
    )
    for dim, values in profile.matrix.values.items():
        print(f"matrix.{dim}: {', '.join(values)}")
    for gate in profile.gates():
        print(f"gate {gate.name} {gate.op} {gate.limit:g}  ({gate.source})")
    return EXIT_PASS


def _exec_module(module: str, args: Sequence[str]) -> NoReturn:
    os.execv(sys.executable, [sys.executable, "-m", module, *args])


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``streamload`` console script."""
    parser = _parser()
    ns = parser.parse_args(argv)
    passthrough = {
        "platform": "harness.platform",
        "receive": "receivers",
        "report": "reports",
        "compare": "reports.compare",
    }
    if ns.command in passthrough:
        _exec_module(passthrough[ns.command], ns.args)
    if ns.command not in ("run", "capacity", "conform", "check"):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        if ns.command == "check":
            return _cmd_check(ns.profile)
        default = {"capacity": "capacity", "conform": "conform"}.get(
            ns.command, "default"
        )
        opts = _run_options(ns, default)
    except ConfigError as exc:
        print(f"streamload {ns.command}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return _cmd_run(opts)


if __name__ == "__main__":
    sys.exit(main())
