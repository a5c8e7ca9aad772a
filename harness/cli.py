"""``streamload``: run a load test end to end, or serve one part of it.

The CLI orchestrates processes and imports none of them (architecture.md):
the reference platform (``python -m harness.platform``), receivers
(``python -m receivers``), Locust (``scenarios/locustfile.py``) and the report
step (``python -m reports``) each run in their own process.

Exit codes: 0 pass, 1 a gate failed, 2 usage or configuration error,
3 the harness itself failed, 130 interrupted (after the report is written).
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import os
import secrets
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from harness.config import parse_duration, parse_positive_int
from harness.errors import ConfigError, HarnessError
from harness.processes import Child
from harness.tls import make_tls


__all__ = ["main"]

EXIT_PASS, EXIT_FAIL, EXIT_USAGE, EXIT_HARNESS, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
_READY_TIMEOUT_S = 60.0
_DRAIN_TIMEOUT_S = 10.0


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line that names the fix."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: {message}; see '{self.prog} --help'\n")


@dataclasses.dataclass(frozen=True)
class RunOptions:
    duration_s: float
    users: int
    spawn_rate: float
    out: Path
    codecs: str
    tracks: str
    params: str
    stop_by: str
    hold: str
    conferences: int
    quiet: bool


def _parser() -> _Parser:
    parser = _Parser(
        prog="streamload", description=__doc__.split("\n")[0] if __doc__ else None
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    run = sub.add_parser(
        "run", help="load test the embedded reference platform and write a report"
    )
    run.add_argument(
        "--duration", default="30s", help="how long Locust runs users (30s, 2m, ...)"
    )
    run.add_argument(
        "--users",
        default="10",
        help="concurrent Locust users (one stream each at a time)",
    )
    run.add_argument(
        "--spawn-rate",
        default=None,
        help="users started per second (default: all at once)",
    )
    run.add_argument(
        "--out", default=None, help="run directory (default: runs/<run id>)"
    )
    run.add_argument(
        "--codecs",
        default="PCMU,L16@16000h",
        help="StreamCodec values to cycle through",
    )
    run.add_argument(
        "--tracks",
        default="inbound_track,outbound_track,both_tracks",
        help="Track values",
    )
    run.add_argument(
        "--params", default="0,1,10", help="custom parameter counts to cycle through"
    )
    run.add_argument(
        "--stop-by", default="sid,name", help="stop streams by sid, name or both"
    )
    run.add_argument(
        "--hold", default="1-3", help="seconds each stream stays open: N or MIN-MAX"
    )
    run.add_argument(
        "--conferences", default="3", help="conferences the reference platform hosts"
    )
    run.add_argument("--quiet", action="store_true", help="no progress lines")
    for name, what in (
        ("platform", "serve the reference platform (python -m harness.platform)"),
        ("receive", "serve receivers (python -m receivers)"),
        ("report", "build the report of a run directory (python -m reports)"),
    ):
        p = sub.add_parser(name, help=what, add_help=False)
        p.add_argument("args", nargs=argparse.REMAINDER)
    return parser


def _run_options(ns: argparse.Namespace) -> RunOptions:
    users = parse_positive_int("--users", ns.users)
    spawn = float(ns.spawn_rate) if ns.spawn_rate is not None else float(users)
    if spawn <= 0:
        raise ConfigError(
            "--spawn-rate", f"{ns.spawn_rate!r} is not above 0", "give e.g. 5"
        )
    return RunOptions(
        duration_s=parse_duration("--duration", ns.duration),
        users=users,
        spawn_rate=spawn,
        out=_run_dir(ns.out),
        codecs=ns.codecs,
        tracks=ns.tracks,
        params=ns.params,
        stop_by=ns.stop_by,
        hold=ns.hold,
        conferences=parse_positive_int("--conferences", ns.conferences),
        quiet=ns.quiet,
    )


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


class _Run:
    """One ``streamload run``: the children, in start order."""

    def __init__(self, opts: RunOptions) -> None:
        self.opts = opts
        self.run_id = opts.out.name
        self.logs = opts.out / "logs"
        self.receiver: Child | None = None
        self.platform: Child | None = None
        self.locust: Child | None = None
        self.interrupted = False

    def say(self, text: str) -> None:
        if not self.opts.quiet:
            print(text, file=sys.stderr, flush=True)

    def start(self) -> None:
        opts = self.opts
        tls = make_tls(opts.out / "tls")
        # Fresh random credentials per run unless the user pins them (e.g. to grep
        # logs for leaks); children get them through the environment, never argv.
        env = {
            "SIGNALWIRE_API_TOKEN": os.environ.get("STREAMLOAD_PLATFORM_TOKEN")
            or secrets.token_urlsafe(24),
            "STREAMLOAD_BEARER_TOKEN": os.environ.get("STREAMLOAD_BEARER_TOKEN")
            or secrets.token_urlsafe(24),
        }
        self.env = env
        self.receiver = Child(
            "receiver-0",
            [
                "-m",
                "receivers",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--cert-file",
                str(tls.cert_file),
                "--key-file",
                str(tls.key_file),
                "--run-dir",
                str(opts.out),
                "--producer",
                "receiver-0",
                "--stats-interval",
                "0.5",
                "--max-duration",
                str(int(opts.duration_s + 600)),
            ],
            log_dir=self.logs,
            env=env,
        )
        account_sid = str(uuid.uuid4())
        self.platform = Child(
            "platform",
            [
                "-m",
                "harness.platform",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--cert-file",
                str(tls.cert_file),
                "--key-file",
                str(tls.key_file),
                "--ca-file",
                str(tls.ca_file),
                "--validate-certificate",
                "--run-dir",
                str(opts.out),
                "--account-sid",
                account_sid,
                "--conferences",
                str(opts.conferences),
                "--stats-interval",
                "0.5",
                "--max-duration",
                str(int(opts.duration_s + 600)),
            ],
            log_dir=self.logs,
            env=env,
        )
        receiver = self.receiver.wait_ready(_READY_TIMEOUT_S)
        platform = self.platform.wait_ready(_READY_TIMEOUT_S)
        self.say(
            f"streamload: run {self.run_id}: platform {platform['url']}, receiver {receiver['url']}"
        )
        stop_timeout = int(float(opts.hold.split("-")[-1] or 0) + 10)
        self.locust = Child(
            "locust",
            [
                "-m",
                "locust",
                "-f",
                _module_file("scenarios", "locustfile.py"),
                "--headless",
                "--host",
                str(platform["url"]),
                "--users",
                str(opts.users),
                "--spawn-rate",
                str(opts.spawn_rate),
                "--run-time",
                f"{max(1, round(opts.duration_s))}s",
                "--stop-timeout",
                str(stop_timeout),
                "--only-summary",
                "--loglevel",
                "WARNING",
                "--exit-code-on-error",
                "0",
                "--html",
                str(opts.out / "locust.html"),
                "--sl-run-dir",
                str(opts.out),
                "--sl-run-id",
                self.run_id,
                "--sl-account-sid",
                account_sid,
                "--sl-receiver-url",
                str(receiver["url"]),
                "--sl-ca-file",
                str(tls.ca_file),
                "--sl-codecs",
                opts.codecs,
                "--sl-tracks",
                opts.tracks,
                "--sl-params",
                opts.params,
                "--sl-stop-by",
                opts.stop_by,
                "--sl-hold",
                opts.hold,
            ],
            log_dir=self.logs,
            env=env,
            json_lines=False,
        )
        self.locust_budget = opts.duration_s + stop_timeout + 60

    def watch(self) -> int:
        """Show progress until Locust ends; return its exit code."""
        assert self.locust is not None
        started = time.monotonic()
        every = 2.0 if sys.stderr.isatty() else 5.0
        next_line = started + every
        while True:
            code = self.locust.wait(0.2)
            if code is not None:
                return code
            now = time.monotonic()
            for child in (self.platform, self.receiver):
                if child is not None and not child.alive():
                    raise HarnessError(
                        f"{child.name} exited early; see {child.log_path}"
                    )
            if now - started > self.locust_budget:
                raise HarnessError(
                    f"locust did not finish in {self.locust_budget:.0f}s; see {self.locust.log_path}"
                )
            if now >= next_line:
                next_line = now + every
                self.say(self._progress(now - started))

    def _progress(self, elapsed: float) -> str:
        p = self.platform.stats if self.platform else {}
        r = self.receiver.stats if self.receiver else {}
        return (
            f"[{elapsed:5.1f}s/{self.opts.duration_s:.0f}s] streams {p.get('streams_active', 0)} live, "
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
            (self.platform, "streams_active", signal.SIGTERM),
            (self.receiver, "streams_open", signal.SIGTERM),
        ]
        for child, busy_stat, sig in steps:
            if child is None:
                continue
            try:
                if busy_stat is not None:
                    self._wait_stat(child, busy_stat)
                child.stop(30, sig)
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
    try:
        run.start()
        run.watch()
    except KeyboardInterrupt:
        run.say("streamload: interrupted; stopping streams and writing the report")
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
    if failure is not None:
        print(f"streamload: {failure}", file=sys.stderr)
    code = _report(opts.out, opts.quiet)
    print(f"streamload: run directory {opts.out}", flush=True)
    if failure is not None or code not in (EXIT_PASS, EXIT_FAIL):
        return EXIT_HARNESS
    return EXIT_INTERRUPTED if run.interrupted else code


def _exec_module(module: str, args: Sequence[str]) -> NoReturn:
    os.execv(sys.executable, [sys.executable, "-m", module, *args])


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``streamload`` console script."""
    parser = _parser()
    ns = parser.parse_args(argv)
    if ns.command in ("platform", "receive", "report"):
        module = {
            "platform": "harness.platform",
            "receive": "receivers",
            "report": "reports",
        }[ns.command]
        _exec_module(module, ns.args)
    if ns.command != "run":
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        opts = _run_options(ns)
    except ConfigError as exc:
        print(f"streamload run: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        return _cmd_run(opts)
    except ConfigError as exc:
        print(f"streamload run: {exc}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
