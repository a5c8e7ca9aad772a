"""``streamload``: run a load test end to end, compare runs, or serve one part of it.

The CLI orchestrates processes and imports none of them (docs/architecture.md):
the reference platform (``python -m harness.platform``), receivers
(``python -m receivers``), Locust (``scenarios/locustfile.py``), the report
(``python -m reports``) and the comparison (``python -m reports.compare``) each
run in their own process. What a run does comes from a profile
(:mod:`harness.core.profiles.profile`), checked in full before anything starts.

Exit codes: 0 pass, 1 a gate failed, 2 usage or configuration error,
3 the harness itself failed, 130 interrupted (after the report is written).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import os
import secrets
import signal
import socket
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn
from urllib.parse import urlsplit

import shtab

from harness.core.errors import ConfigError
from harness.core.exits import EXIT_INTERRUPTED, EXIT_PASS, EXIT_USAGE, help_text
from harness.core.profiles.profile import BUILTIN, Profile, apply_overrides
from harness.core.tags import parse_tags
from harness.core.target import Target, is_loopback, parse_target, parse_wss_url
from harness.core.transports import DEFAULT_TRANSPORT, TRANSPORTS
from harness.io.deploy import check_plain, check_public_url, format_listen, parse_listen
from harness.io.profile_file import load_profile
from harness.run import scaleout
from harness.run.runner import RunOptions, run


__all__ = ["main"]

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
    (
        "--platform-processes",
        "platform_processes",
        "reference platform processes sharing the streams (one per core)",
    ),
    ("--codecs", "codecs", "StreamCodec values, e.g. PCMU,L16@16000h"),
    ("--tracks", "tracks", "Track values"),
    ("--params", "params", "custom parameter counts, e.g. 0,1,10,98"),
    ("--param-size", "param_size", "short, long, or short,long"),
    ("--real-time", "real_time", "StreamRealTime: omit,true,false"),
    ("--bearer-token", "bearer_token", "AuthorizationBearerToken: on,off"),
    ("--status-callback", "status_callback", "StatusCallback: off,on"),
    ("--stop-by", "stop_by", "stop streams by sid, name or both"),
    ("--seed", "seed", "reference platform: seed for --fault draws"),
    (
        "--max-streams",
        "max_streams",
        "budget: streams the run may start (then new starts stop; 0: no cap)",
    ),
    (
        "--max-stream-minutes",
        "max_stream_minutes",
        "budget: stream minutes the run may start, by each drawn hold (0: no cap)",
    ),
)


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line that names the fix."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: {message}; see '{self.prog} --help'\n")


def _add_run_flags(run: argparse.ArgumentParser) -> None:
    run.add_argument(
        "--profile",
        default=None,
        help=f"built-in ({', '.join(BUILTIN)}) or a .toml file; flags override it",
    )
    _add_load_flags(run)
    _add_real_platform_flags(run)
    scaleout.add_flags(run)
    run.add_argument(
        "--out", default=None, help="run directory (default: runs/<run id>)"
    )
    run.add_argument("--quiet", action="store_true", help="no progress lines")
    run.add_argument(
        "--metrics-listen",
        default=None,
        metavar="HOST:PORT",
        help="serve the live media metrics per codec for Prometheus on "
        "http://HOST:PORT/metrics until the report is written (0: a free port)",
    )
    run.add_argument(
        "--ui",
        default=None,
        metavar="HOST:PORT",
        help="run Locust with its web UI on http://HOST:PORT (a Media tab shows the "
        "live media figures per codec); the load still starts and ends on its own",
    )
    run.add_argument(
        "--receiver-transport",
        choices=TRANSPORTS,
        default=None,
        help=f"the receivers' WebSocket library (default {DEFAULT_TRANSPORT}; "
        "websockets to compare, or where picows will not install)",
    )
    run.add_argument(
        "--tag",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="label the run, e.g. --tag branch=main (repeatable; in summary.json "
        "and the report)",
    )


def _add_load_flags(run: argparse.ArgumentParser) -> None:
    """The "load and matrix" group: each flag overrides its profile key."""
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


def _add_real_platform_flags(run: argparse.ArgumentParser) -> None:
    """The "real platform" group: the target, and where it reaches our services."""
    real = run.add_argument_group("real platform")
    real.add_argument(
        "--target",
        default=None,
        help="platform base URL, e.g. https://SPACE.signalwire.com; credentials from "
        "SIGNALWIRE_PROJECT_ID and SIGNALWIRE_API_TOKEN",
    )
    real.add_argument("--target-ca-file", default=None, help="CA to trust for --target")
    real.add_argument(
        "--platform-records",
        default=None,
        metavar="DIR",
        help="a run directory the target writes its records into (the reference "
        "platform's --run-dir, on shared storage): its send log joins this run's report",
    )
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
        "--receiver-open-listen",
        default=None,
        metavar="HOST:PORT",
        help="where the receiver for streams without a bearer token listens "
        "(default on loopback: a free port, printed)",
    )
    real.add_argument(
        "--receiver-cert",
        default=None,
        help="receivers' TLS certificate (and the callback sink's)",
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
    real.add_argument(
        "--callback-listen",
        default=None,
        metavar="HOST:PORT",
        help="start the callback sink here (the platform is told --callback-url); "
        "without it a remote run expects your own 'streamload callbacks'",
    )
    real.add_argument(
        "--callback-cert", default=None, help="callback sink's TLS certificate"
    )
    real.add_argument("--callback-key", default=None, help="callback sink's TLS key")
    real.add_argument(
        "--services-tls",
        default="on",
        choices=("on", "off"),
        help="off: receivers and sink serve plain ws/http behind a TLS terminator",
    )
    real.add_argument(
        "--behind-proxy",
        action="store_true",
        help="a TLS terminator forwards to the receivers and sink (allows "
        "--services-tls off off loopback)",
    )


def _parser() -> _Parser:
    parser = _Parser(
        prog="streamload",
        description=__doc__.split("\n")[0] if __doc__ else None,
        epilog=help_text(),
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    shtab.add_argument_to(  # `streamload --print-completion bash > ...`: see the README
        parser,
        ["--print-completion"],
        help="print a bash, zsh or tcsh completion script",
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
    check.add_argument(
        "--target",
        default=None,
        help="the platform a run would call: print what it would start (and cost)",
    )
    for flag, key in (
        ("--max-streams", "max_streams"),
        ("--max-stream-minutes", "max_stream_minutes"),
    ):
        check.add_argument(flag, default=None, help=f"override budget.{key}")
    for name, what in (
        (
            "compare",
            "compare two runs: per-codec deltas, regressions (python -m reports.compare)",
        ),
        ("platform", "serve the reference platform (python -m harness.platform)"),
        ("receive", "serve receivers (python -m receivers)"),
        (
            "callbacks",
            "serve the status-callback sink (python -m receivers.callbacks)",
        ),
        ("report", "build the report of a run directory (python -m reports)"),
        ("trend", "metrics over many runs, changes flagged (python -m reports.trend)"),
    ):
        p = sub.add_parser(name, help=what, add_help=False)
        p.add_argument("args", nargs=argparse.REMAINDER)
    return parser


def _version() -> str:
    """The installed distribution's version (what ``pip show streamload`` says)."""
    try:
        return importlib.metadata.version("streamload")
    except importlib.metadata.PackageNotFoundError:
        return "unknown (not installed)"


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
    """Check the run's flags against each other and the profile, in a fixed order.

    Each step raises the first :class:`ConfigError` it finds, so a command line
    with several mistakes is told about them in the order the steps run.
    """
    profile = _resolve(ns, default_profile)
    tags = parse_tags(ns.tag)
    target = parse_target(ns.target, os.environ) if ns.target else None
    if target is not None and (profile.platform.faults or profile.platform.defects):
        raise ConfigError(
            "--fault/--defect",
            "impair the reference platform only",
            "drop them when using --target",
        )
    remote = target is not None and not target.loopback
    receiver_url, open_url, sends_open = _receiver_urls(ns, profile, remote)
    scale_out = scaleout.resolve(ns, receiver_url=receiver_url)
    tls = ns.services_tls == "on"
    host, port, open_host, open_port = _receiver_listen(ns, tls, sends_open)
    if not tls and not receiver_url:
        raise ConfigError(
            "--services-tls",
            "off serves plain ws, which the platform must not dial",
            "give --receiver-url: the terminator's wss:// URL",
        )
    callback_url, callback_host, callback_port, callback_listen = _callback_sink(
        ns, profile, remote, tls
    )
    files = _pem_files(ns, tls)
    platform_records = _platform_records(ns, target)
    metrics = (
        parse_listen("--metrics-listen", ns.metrics_listen)
        if ns.metrics_listen
        else None
    )
    ui = parse_listen("--ui", ns.ui) if ns.ui else None
    _check_ports(
        (
            ("--receiver-listen", (host, port)),
            ("--receiver-open-listen", (open_host, open_port)),
            ("--callback-listen", (callback_host, callback_port)),
            *((("--metrics-listen", metrics),) if metrics else ()),
            *((("--ui", ui),) if ui else ()),
        )
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
        receiver_open_host=open_host,
        receiver_open_port=open_port,
        receiver_cert=files["--receiver-cert"],
        receiver_key=files["--receiver-key"],
        conference_sids=ns.conference_sids,
        target_ca_file=files["--target-ca-file"],
        platform_records=platform_records,
        callback_url=callback_url,
        callback_listen=callback_listen,
        callback_host=callback_host,
        callback_port=callback_port,
        callback_cert=files["--callback-cert"] or files["--receiver-cert"],
        callback_key=files["--callback-key"] or files["--receiver-key"],
        services_tls=tls,
        behind_proxy=ns.behind_proxy,
        load=ns.command != "conform",
        scale_out=scale_out,
        metrics_listen=metrics,
        locust_ui=ui,
        receiver_transport=ns.receiver_transport,
        tags=tags,
    )


def _receiver_urls(
    ns: argparse.Namespace, profile: Profile, remote: bool
) -> tuple[str, str, bool]:
    """The receivers' public URLs, and whether the matrix sends streams without a token."""
    receiver_url = _public_url("--receiver-url", ns.receiver_url, remote)
    if remote and not receiver_url:
        raise ConfigError(
            "--receiver-url",
            "is required with a remote --target",
            "give the public wss:// URL that reaches this machine's receivers "
            "(e.g. through a TLS terminator or tunnel)",
        )
    open_url = _public_url("--receiver-url-open", ns.receiver_url_open, remote)
    sends_open = (
        "off" in profile.matrix.values["bearer_token"] and ns.command != "conform"
    )
    if (remote or receiver_url) and sends_open and not open_url:
        raise ConfigError(
            "--receiver-url-open",
            "the matrix sends streams without a bearer token, which the receiver refuses",
            "give a second public URL for the open receiver (and --receiver-open-listen), "
            "or use --bearer-token on",
        )
    return receiver_url, open_url, sends_open


def _receiver_listen(
    ns: argparse.Namespace, tls: bool, sends_open: bool
) -> tuple[str, int, str, int]:
    """Where the receiver and the open receiver listen (port 0: a free one)."""
    host, port = "127.0.0.1", 0
    if ns.receiver_listen:
        host, port = parse_listen("--receiver-listen", ns.receiver_listen)
    check_plain("--services-tls", host, tls, ns.behind_proxy)
    open_host, open_port = "127.0.0.1", 0
    if ns.receiver_open_listen:
        open_host, open_port = parse_listen(
            "--receiver-open-listen", ns.receiver_open_listen
        )
        check_plain("--services-tls", open_host, tls, ns.behind_proxy)
    elif sends_open and not is_loopback(host):
        raise ConfigError(
            "--receiver-open-listen",
            f"the receivers listen on {host}, but where the receiver for streams "
            "without a bearer token listens is not given",
            "give --receiver-open-listen HOST:PORT (its public URL is --receiver-url-open)",
        )
    return host, port, open_host, open_port


def _callback_sink(
    ns: argparse.Namespace, profile: Profile, remote: bool, tls: bool
) -> tuple[str, str, int, bool]:
    """The callback sink's public URL, where it listens, and whether we start it."""
    # the negative suite runs without a sink (its valid streams' callbacks
    # then go unchecked, noted in run.json); the matrix's callbacks cannot
    callbacks = "on" in profile.matrix.values["status_callback"]
    callback_url = _public_url("--callback-url", ns.callback_url, remote, "https")
    if callbacks and remote and not callback_url:
        raise ConfigError(
            "--callback-url",
            "the matrix asks for status callbacks, which a remote platform cannot "
            "deliver to this machine's loopback",
            "give --callback-listen HOST:PORT and the public https:// --callback-url "
            "that reaches it, or use --status-callback off",
        )
    callback_host, callback_port, callback_listen = "127.0.0.1", 0, False
    if ns.callback_listen:
        if not callback_url:
            raise ConfigError(
                "--callback-listen",
                "is given without --callback-url",
                "give the public https:// URL the platform must call",
            )
        callback_host, callback_port = parse_listen(
            "--callback-listen", ns.callback_listen
        )
        check_plain("--services-tls", callback_host, tls, ns.behind_proxy)
        callback_listen = True
    elif callbacks and not tls and not callback_url:
        raise ConfigError(
            "--services-tls",
            "off serves plain http, which the platform must not call",
            "give --callback-url: the terminator's https:// URL",
        )
    return callback_url, callback_host, callback_port, callback_listen


def _pem_files(ns: argparse.Namespace, tls: bool) -> dict[str, Path | None]:
    """The certificate, key and CA files by flag: each a file, pairs given whole."""
    files = {}
    for flag, value in (
        ("--receiver-cert", ns.receiver_cert),
        ("--receiver-key", ns.receiver_key),
        ("--callback-cert", ns.callback_cert),
        ("--callback-key", ns.callback_key),
        ("--target-ca-file", ns.target_ca_file),
    ):
        if value and not Path(value).is_file():
            raise ConfigError(
                flag, f"{value!r} is not a file", "give a PEM file's path"
            )
        files[flag] = Path(value) if value else None
    for cert, key in (
        ("--receiver-cert", "--receiver-key"),
        ("--callback-cert", "--callback-key"),
    ):
        if (files[cert] is None) != (files[key] is None):
            raise ConfigError(
                f"{cert}/{key}", "only one is given", "give both or neither"
            )
        if files[cert] is not None and not tls:
            raise ConfigError(
                f"{cert}/{key}",
                "are given with --services-tls off",
                "drop them (the terminator holds the certificate), or use --services-tls on",
            )
    return files


def _platform_records(ns: argparse.Namespace, target: Target | None) -> Path | None:
    """The --target platform's run directory, whose send log joins the report."""
    platform_records = None
    if ns.platform_records:
        platform_records = Path(ns.platform_records)
        if target is None:
            raise ConfigError(
                "--platform-records",
                "is for a --target platform (the embedded one's records are joined already)",
                "drop it, or give --target",
            )
        if not platform_records.is_dir():
            raise ConfigError(
                "--platform-records",
                f"{ns.platform_records!r} is not a directory",
                "give the platform's --run-dir (on storage this machine can read)",
            )
    return platform_records


def _check_ports(listens: Sequence[tuple[str, tuple[str, int]]]) -> None:
    """Each fixed port once, and free now: fail before any service starts.

    Every port is checked against the others before any is bound, so a clash
    between two flags is named as such whatever else holds the port."""
    taken: dict[int, str] = {}
    for flag, (_, p) in listens:
        if not p:
            continue
        if p in taken:  # one port, two services: only one would get it
            raise ConfigError(
                flag,
                f"port {p} is also {taken[p]}'s",
                "give each service its own port",
            )
        taken[p] = flag
    for flag, (h, p) in listens:
        if p:
            _try_bind(flag, h, p)


def _public_url(flag: str, text: str | None, remote: bool, scheme: str = "wss") -> str:
    """A public receiver/sink URL: TLS only, and not loopback with a remote target."""
    if not text:
        return ""
    url = (
        parse_wss_url(flag, text)
        if scheme == "wss"
        else check_public_url(flag, text, ("https",))
    )
    host = urlsplit(url).hostname or ""
    if remote and is_loopback(host):
        raise ConfigError(
            flag,
            f"{text!r} is loopback, which a remote platform cannot reach",
            f"give the public {scheme}:// URL of your TLS terminator or tunnel",
        )
    return url


def _try_bind(flag: str, host: str, port: int) -> None:
    """Bind the address now, so a taken port fails before the first request."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
    except OSError as exc:
        raise ConfigError(
            flag,
            f"cannot listen on {format_listen(host, port)} ({exc.strerror})",
            "choose a free port and address of this machine",
        ) from None


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


def _cmd_check(ns: argparse.Namespace) -> int:
    profile = load_profile(ns.profile)
    caps = {
        key: (flag, value)
        for flag, key, value in (
            ("--max-streams", "max_streams", ns.max_streams),
            ("--max-stream-minutes", "max_stream_minutes", ns.max_stream_minutes),
        )
        if value is not None
    }
    profile = apply_overrides(profile, caps) if caps else profile
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
    print(f"conformance.require: {profile.conformance.requirement()}")
    if ns.target is not None:
        for line in start_estimate(profile, ns.target):
            print(line)
    return EXIT_PASS


def start_estimate(profile: Profile, target: str) -> list[str]:
    """What a run of ``profile`` would start on ``target``: streams, minutes, rate, caps.

    Closed model: each user cycles start, hold, stop, wait, so about
    ``users * duration / (hold + wait)`` streams (mean hold and wait; a shape
    that ramps starts fewer). Open model: ``rate * duration``, at most
    ``users`` in flight. A stream still held when the load ends is stopped
    then, so stream minutes never exceed ``users * duration``.
    """
    load, budget = profile.load, profile.budget
    hold = sum(load.hold_s) / 2
    wait = sum(load.wait_s) / 2
    duration = load.duration_s
    if load.model == "closed":
        rate = load.users / max(hold + wait, 1e-3)
        model = (
            f"{load.users} users x {duration:g} s / (hold {hold:g} s + wait {wait:g} s)"
        )
    else:
        rate = min(load.rate, load.users / max(hold, 1e-3))
        model = (
            f"{load.rate:g} starts/s x {duration:g} s (at most {load.users} in flight)"
        )
    streams = rate * duration
    minutes = min(streams * hold, load.users * duration) / 60
    lines = [
        f"target: {target}",
        f"would start: about {streams:,.0f} streams ({model})",
        f"stream minutes: about {minutes:,.1f} (mean hold {hold:g} s)",
        f"start requests: about {rate:,.2f}/s, as many stops; "
        f"hold {load.hold_s[0]:g}-{load.hold_s[1]:g} s, "
        f"wait {load.wait_s[0]:g}-{load.wait_s[1]:g} s, duration {duration:g} s",
    ]
    caps = []
    if budget.max_streams:
        caps.append(f"max_streams {budget.max_streams}")
    if budget.max_stream_minutes:
        caps.append(f"max_stream_minutes {budget.max_stream_minutes:g}")
    if not caps:
        lines.append(
            "caps: none (a real platform bills by the stream minute: set "
            "--max-streams/--max-stream-minutes or [budget] in the profile)"
        )
        return lines
    stops = []
    if budget.max_streams and budget.max_streams < streams:
        stops.append(f"after about {budget.max_streams / rate:,.0f} s by max_streams")
    if budget.max_stream_minutes and budget.max_stream_minutes < minutes:
        at = budget.max_stream_minutes * 60 / max(hold, 1e-3) / rate
        stops.append(f"after about {at:,.0f} s by max_stream_minutes")
    lines.append(
        f"caps: {', '.join(caps)}; "
        + (
            f"new starts would stop {' and '.join(stops)}"
            if stops
            else "not reached by this load"
        )
    )
    return lines


def _exec_module(module: str, args: Sequence[str]) -> NoReturn:
    os.execv(sys.executable, [sys.executable, "-m", module, *args])


_PASSTHROUGH = {
    "platform": "harness.platform",
    "receive": "receivers",
    "callbacks": "receivers.callbacks",
    "report": "reports",
    "compare": "reports.compare",
    "trend": "reports.trend",
}
"""Commands that are another module's own command line, handed over untouched."""


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``streamload`` console script."""
    args = list(sys.argv[1:] if argv is None else argv)
    # argparse's REMAINDER drops a leading "--flag" in a subcommand, so
    # `streamload platform --port 8443` must bypass it.
    if args and args[0] in _PASSTHROUGH:
        _exec_module(_PASSTHROUGH[args[0]], args[1:])
    parser = _parser()
    ns = parser.parse_args(args)
    if ns.command not in ("run", "capacity", "conform", "check"):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        if ns.command == "check":
            return _cmd_check(ns)
        default = {"capacity": "capacity", "conform": "conform"}.get(
            ns.command, "default"
        )
        opts = _run_options(ns, default)
    except ConfigError as exc:
        print(f"streamload {ns.command}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:  # before anything started: nothing to stop
        print(f"streamload {ns.command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    try:
        return run(opts)
    finally:
        if argv is None:  # the console script: a signal as it exits keeps its code
            for signum in (signal.SIGINT, signal.SIGTERM):
                signal.signal(signum, signal.SIG_IGN)


if __name__ == "__main__":
    sys.exit(main())
