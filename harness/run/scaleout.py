"""Runs that span machines: receivers and Locust workers on other hosts, one report.

Receivers scale as processes and hosts behind one public URL (a TCP or TLS
load balancer in front of several ``streamload receive``), and load generation
scales as Locust workers on several hosts under one master. ``streamload run``
stays the one command that drives the run and writes the report; these flags
tell it which parts run elsewhere:

* ``--remote-receivers``: start no receiver here; the platform dials
  ``--receiver-url`` (the load balancer), behind which ``streamload receive``
  runs on other hosts.
* ``--workers-listen HOST:PORT``: the Locust master listens there and waits for
  ``--processes`` workers started on other hosts (``locust --worker``) instead
  of forking them here.
* ``--join-records DIR`` (repeatable): a run directory a service on another
  host writes into (a receiver's ``--run-dir``, a worker's ``--sl-run-dir``) on
  storage this host reads; its record parts join this run's before the report,
  as ``--platform-records`` does for the platform's send log.

Parts keep their producers' names, so they never collide unless two hosts
gave the same ``--producer``: such a part is not copied over another, and the
run records it as a fault (the report's verdict is then ``incomplete``), since
a part silently dropped would read as frames the platform lost.
"""

from __future__ import annotations

import argparse
import dataclasses
import filecmp
import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from harness.core.errors import ConfigError
from harness.io.deploy import parse_listen


__all__ = [
    "PERIODIC_TABLES",
    "WORKERS_WAIT_S",
    "Joined",
    "ScaleOut",
    "add_flags",
    "copy_parts",
    "locust_master_args",
    "resolve",
    "settled_parts",
]

PERIODIC_TABLES = frozenset({"health", "histograms"})
"""Tables a live service writes every flush even when idle (its health and
histograms): their parts never stop appearing, so they do not count when
deciding that a remote service's records have settled."""

WORKERS_WAIT_S = 60
"""How long the Locust master waits for its remote workers before giving up."""


@dataclasses.dataclass(frozen=True, slots=True)
class ScaleOut:
    """Which parts of a run are on other hosts, all flags checked."""

    remote_receivers: bool = False
    join_records: tuple[Path, ...] = ()
    workers_listen: tuple[str, int] | None = None
    """Where the Locust master listens for workers on other hosts; ``None``: it
    forks its workers here (``--processes``)."""


def add_flags(run: argparse.ArgumentParser) -> None:
    """The "across machines" group of ``streamload run``."""
    group = run.add_argument_group(
        "across machines (docs/scale-out.md)",
    )
    group.add_argument(
        "--remote-receivers",
        action="store_true",
        help="start no receiver here: streamload receive runs on other hosts behind "
        "--receiver-url (e.g. a load balancer); join their records with --join-records",
    )
    group.add_argument(
        "--workers-listen",
        default=None,
        metavar="HOST:PORT",
        help="the Locust master listens here for --processes workers started on "
        "other hosts (locust --worker) instead of starting them here; a private "
        "network only (Locust's protocol has no authentication)",
    )
    group.add_argument(
        "--join-records",
        action="append",
        default=[],
        metavar="DIR",
        help="a run directory a service on another host writes into (a receiver's "
        "--run-dir, a worker's --sl-run-dir; shared storage): its records join "
        "this run's report (repeatable)",
    )


def resolve(ns: argparse.Namespace, *, receiver_url: str) -> ScaleOut:
    """Check the flags :func:`add_flags` added.

    Raises:
        ConfigError: remote receivers without a URL or with a listen address,
            a worker address without a port, a records directory that is not one.
    """
    remote = bool(ns.remote_receivers)
    if remote and not receiver_url:
        raise ConfigError(
            "--remote-receivers",
            "needs the URL the platform dials to reach them",
            "give --receiver-url wss://LOAD-BALANCER/stream",
        )
    if remote and (ns.receiver_listen or ns.receiver_open_listen):
        raise ConfigError(
            "--remote-receivers",
            "starts no receiver here, so there is nothing to listen",
            "drop --receiver-listen/--receiver-open-listen (each remote "
            "'streamload receive' takes --listen)",
        )
    listen = None
    if ns.workers_listen:
        listen = parse_listen("--workers-listen", ns.workers_listen)
        if listen[1] == 0:
            raise ConfigError(
                "--workers-listen",
                "port 0 would be a port the workers cannot know",
                "give a fixed port, e.g. 0.0.0.0:5557",
            )
    dirs = []
    for text in ns.join_records:
        path = Path(text)
        if not path.is_dir():
            raise ConfigError(
                "--join-records",
                f"{text!r} is not a directory",
                "give the service's --run-dir (on storage this machine can read)",
            )
        dirs.append(path)
    return ScaleOut(remote, tuple(dirs), listen)


def locust_master_args(scale: ScaleOut, workers: int) -> list[str]:
    """Locust's flags for a master waiting for ``workers`` workers on other hosts."""
    assert scale.workers_listen is not None
    host, port = scale.workers_listen
    return [
        "--master", "--expect-workers", str(workers),
        "--expect-workers-max-wait", str(WORKERS_WAIT_S),
        "--master-bind-host", host, "--master-bind-port", str(port),
    ]  # fmt: skip


def _parts(source: Path) -> list[Path]:
    return sorted((source / "records").glob("*/*.parquet"))


def settled_parts(
    sources: Sequence[Path],
    *,
    quiet_s: float,
    wait_s: float,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> dict[Path, list[Path]]:
    """Each source's record parts, once no new one (but periodic tables') appeared
    for ``quiet_s``, or ``wait_s`` passed.

    The services are not ours to stop, so their last rows reach their
    directories on their own flushes; the periodic tables
    (:data:`PERIODIC_TABLES`) are left out of the judgement, else a live
    receiver would never look settled.
    """
    deadline = clock() + wait_s
    seen: list[Path] | None = None
    while True:
        found = [
            p
            for s in sources
            for p in _parts(s)
            if p.parent.name not in PERIODIC_TABLES
        ]
        if found == seen and found:
            break
        seen = found
        if clock() >= deadline:
            break
        sleep(quiet_s)
    return {s: _parts(s) for s in sources}


@dataclasses.dataclass(frozen=True, slots=True)
class Joined:
    """What copying one source's parts did."""

    copied: int
    collided: list[str]
    """Parts whose name another host's part already holds (with other bytes)."""
    failed: list[str]
    """Parts that could not be copied, with the error."""


def copy_parts(parts: Sequence[Path], out: Path) -> Joined:
    """Copy record parts into ``out/records``, and producer manifests beside them.

    A part already there with the same bytes (the same file on shared storage,
    or an earlier join) is skipped; one with other bytes is a collision.
    """
    copied, collided, failed = 0, [], []
    for part in parts:
        dest = out / "records" / part.parent.name / part.name
        try:
            if dest.exists():
                if not filecmp.cmp(part, dest, shallow=False):
                    collided.append(str(part))
                continue
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(part, dest)
        except OSError as exc:
            failed.append(f"{part}: {exc}")
            continue
        copied += 1
    sources = {p.parent.parent.parent for p in parts}
    for source in sorted(sources):
        for manifest in sorted((source / "producers").glob("*.json")):
            dest = out / "producers" / manifest.name
            try:
                if not dest.exists():
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(manifest, dest)
            except OSError as exc:
                failed.append(f"{manifest}: {exc}")
    return Joined(copied, collided, failed)
