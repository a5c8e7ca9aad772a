"""A few test hosts on one machine: Linux network namespaces on a bridge, nginx and HAProxy.

A deployed streamload run spans machines: the platform on one, a TLS
terminator on another, the load and the receivers on a third. This module
builds that shape out of network namespaces (one per host, each with one veth
leg on a bridge that lives in a namespace of its own), so the traffic crosses
real interfaces with real addresses and never leaves the machine, nor touches
the host's own interfaces.

Addresses come from 198.18.0.0/15 only (RFC 2544, the benchmarking range), so
they cannot clash with a network the machine is on. Namespace names start with
``sl-<pid>-<random>-``: parallel runs and a crashed run's leftovers never
collide, and :func:`leftovers` tells whether a test left any of its own.

Everything made here is removed by :meth:`Topology.close`, even after a
failure: the processes it started (by their ids), then every process still
inside one of its namespaces, then the namespaces (which takes their veths).
Needs root and ``ip`` (iproute2); :func:`unavailable` says why not otherwise.
"""

from __future__ import annotations

import dataclasses
import functools
import ipaddress
import os
import secrets
import shutil
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType

import trustme


__all__ = [
    "NETWORK",
    "Certs",
    "HAProxy",
    "Host",
    "Nginx",
    "Topology",
    "leftovers",
    "make_certs",
    "unavailable",
]

NETWORK = ipaddress.ip_network("198.18.0.0/15")
"""RFC 2544 benchmarking range: the only addresses these hosts ever get."""
PREFIX_LEN = 24
_BRIDGE = "br0"
_STOP_GRACE_S = 5.0


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["ip", *args], capture_output=True, text=True, check=check, timeout=30
    )


@functools.cache
def unavailable() -> str | None:
    """Why namespaces cannot be built here (a skip reason), or None when they can.

    Probed once per process, by making and removing one namespace.
    """
    if os.geteuid() != 0:
        return "network namespaces need root (run the tests as root, as CI does)"
    if shutil.which("ip") is None:
        return "'ip' (iproute2) is not installed: apt-get install iproute2"
    name = f"sl-{os.getpid()}-probe-{secrets.token_hex(3)}"
    made = _ip("netns", "add", name, check=False)
    if made.returncode != 0:
        return f"'ip netns add' fails here: {made.stderr.strip()}"
    _ip("netns", "del", name, check=False)
    return None


def leftovers(prefix: str) -> list[str]:
    """Namespaces whose name starts with ``prefix`` (none after a clean close)."""
    listed = _ip("netns", "list", check=False).stdout.splitlines()
    return [n.split()[0] for n in listed if n.split() and n.startswith(prefix)]


@dataclasses.dataclass(frozen=True, slots=True)
class Host:
    """One test host: a namespace with one address on the topology's bridge."""

    name: str
    ns: str
    address: str

    def argv(self, command: Sequence[str]) -> list[str]:
        """``command`` as run inside this host's namespace."""
        return ["ip", "netns", "exec", self.ns, *command]

    def run(
        self, command: Sequence[str], *, timeout: float = 30, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.argv(command),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=check,
            stdin=subprocess.DEVNULL,
        )

    def listening(self, port: int) -> bool:
        """Whether something here listens on TCP ``address:port``."""
        out = self.run(["ss", "-Htln"], check=False).stdout
        return any(
            f"{self.address}:{port}" in line or f"*:{port}" in line
            for line in out.splitlines()
        )

    def wait_listening(self, port: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not self.listening(port):
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listens on {self.address}:{port}")
            time.sleep(0.1)


class Topology:
    """Hosts on one bridge, each in its own namespace; :meth:`close` removes all of it."""

    def __init__(self) -> None:
        self.prefix = f"sl-{os.getpid()}-{secrets.token_hex(3)}-"
        self.hosts: dict[str, Host] = {}
        self._namespaces: list[str] = []
        self._procs: list[subprocess.Popen[bytes]] = []
        try:
            self._bridge = self._add_namespace("br")
            _ip("-n", self._bridge, "link", "add", _BRIDGE, "type", "bridge")
            _ip("-n", self._bridge, "link", "set", _BRIDGE, "up")
        except BaseException:
            self.close()
            raise

    def _add_namespace(self, name: str) -> str:
        ns = self.prefix + name
        self._namespaces.append(ns)  # before it exists: close() tolerates a missing one
        _ip("netns", "add", ns)
        _ip("-n", ns, "link", "set", "lo", "up")
        return ns

    def add_isolated(self, name: str) -> Host:
        """A namespace with only ``lo`` (up): nothing started in it can reach
        any other host, so a dial off loopback fails there and leaves nothing."""
        return Host(name, self._add_namespace(name), "127.0.0.1")

    def add_host(self, name: str, address: str) -> Host:
        """A namespace with ``eth0`` at ``address``/24, its peer on the bridge."""
        if ipaddress.ip_address(address) not in NETWORK:
            raise ValueError(f"{address} is outside {NETWORK}; use the RFC 2544 range")
        ns = self._add_namespace(name)
        leg = f"v-{name}"[:15]
        # Both ends are created inside their namespaces: no name ever appears
        # on the machine's own interface list, so parallel runs cannot clash.
        _ip(
            "link", "add", "eth0", "netns", ns, "type", "veth",
            "peer", "name", leg, "netns", self._bridge,
        )  # fmt: skip
        _ip("-n", self._bridge, "link", "set", leg, "master", _BRIDGE)
        _ip("-n", self._bridge, "link", "set", leg, "up")
        _ip("-n", ns, "addr", "add", f"{address}/{PREFIX_LEN}", "dev", "eth0")
        _ip("-n", ns, "link", "set", "eth0", "up")
        host = Host(name, ns, address)
        self.hosts[name] = host
        return host

    def spawn(
        self,
        host: Host,
        command: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        stdout: int | None = subprocess.DEVNULL,
        stderr: int | Path | None = subprocess.DEVNULL,
    ) -> subprocess.Popen[bytes]:
        """Start ``command`` inside ``host``, in its own session; closed with the topology.

        ``stderr`` may be a path: the output goes to that file.
        """
        err: int | None
        if isinstance(stderr, Path):
            err = os.open(stderr, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        else:
            err = stderr
        try:
            proc = subprocess.Popen(
                host.argv(command),
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=err,
                env={**os.environ, **(env or {})},
                start_new_session=True,
            )
        finally:
            if isinstance(stderr, Path) and err is not None:
                os.close(err)
        self._procs.append(proc)
        return proc

    def close(self) -> None:
        """Stop what was started, kill what is left inside, delete the namespaces."""
        for proc in self._procs:
            stop(proc)
            for pipe in (proc.stdout, proc.stderr):
                if pipe is not None:
                    pipe.close()
        for ns in self._namespaces:
            pids = _ip("netns", "pids", ns, check=False).stdout.split()
            for pid in pids:  # only processes inside our own namespaces
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
        for ns in reversed(self._namespaces):
            _ip("netns", "del", ns, check=False)
        self._namespaces.clear()

    def __enter__(self) -> Topology:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def stop(proc: subprocess.Popen[bytes], sig: signal.Signals = signal.SIGTERM) -> None:
    """Signal ``proc``'s session (started by us), then kill it if it lingers."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        return
    try:
        proc.wait(_STOP_GRACE_S)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(_STOP_GRACE_S)


@dataclasses.dataclass(frozen=True, slots=True)
class Certs:
    """One throwaway CA and a server certificate per address."""

    ca_file: Path
    cert_files: dict[str, Path]
    """Chain (leaf first) per address."""
    key_files: dict[str, Path]


def make_certs(directory: Path, addresses: Sequence[str]) -> Certs:
    """A CA, and for each address a certificate naming that IP, under ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA(organization_name="streamload netns test CA")
    ca_file = directory / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    certs: dict[str, Path] = {}
    keys: dict[str, Path] = {}
    for address in addresses:
        leaf = ca.issue_cert(address)
        certs[address] = directory / f"{address}.pem"
        keys[address] = directory / f"{address}.key"
        with certs[address].open("wb") as out:
            for blob in leaf.cert_chain_pems:
                out.write(blob.bytes())
        leaf.private_key_pem.write_to_path(str(keys[address]))
        keys[address].chmod(0o600)
    return Certs(ca_file, certs, keys)


@dataclasses.dataclass(frozen=True, slots=True)
class Route:
    """One exact public path on the terminator and the plain-HTTP upstream it forwards to."""

    path: str
    upstream: str
    """``http://HOST:PORT/PATH`` (the request is forwarded to that path)."""


_CONF = """\
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log info;
events {{ worker_connections 1024; }}
http {{
    access_log {dir}/access.log;
    client_body_temp_path {dir}/tmp/body;
    proxy_temp_path {dir}/tmp/proxy;
    fastcgi_temp_path {dir}/tmp/fastcgi;
    uwsgi_temp_path {dir}/tmp/uwsgi;
    scgi_temp_path {dir}/tmp/scgi;
    map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}
    server {{
        listen {address}:{port} ssl;
        ssl_certificate {cert};
        ssl_certificate_key {key};
{locations}
        location / {{ return 404; }}
    }}
}}
"""
_LOCATION = """\
        location = {path} {{
            proxy_pass {upstream};
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Forwarded-Host $host;
            proxy_buffering off;
            proxy_request_buffering off;
            proxy_read_timeout 3600s;
            proxy_send_timeout 3600s;
        }}
"""


class Nginx:
    """nginx as a TLS terminator on ``host``, with its own config and prefix in ``directory``.

    WebSocket upgrades pass through (Upgrade/Connection headers, no buffering,
    hour-long timeouts); the public Host and scheme travel in ``Host`` and
    ``X-Forwarded-Proto``/``-Host``, as a proxy in front of a real deployment
    would send them.
    """

    def __init__(
        self,
        topology: Topology,
        host: Host,
        directory: Path,
        *,
        cert_file: Path,
        key_file: Path,
        routes: Sequence[Route],
        port: int = 443,
    ) -> None:
        self.topology, self.host, self.port = topology, host, port
        self.directory = directory
        (directory / "tmp").mkdir(parents=True, exist_ok=True)
        self.conf = directory / "nginx.conf"
        self.conf.write_text(
            _CONF.format(
                dir=directory,
                address=host.address,
                port=port,
                cert=cert_file,
                key=key_file,
                locations="".join(
                    _LOCATION.format(path=r.path, upstream=r.upstream) for r in routes
                ),
            )
        )
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def binary(self) -> str:
        found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")
        if found is None:
            raise FileNotFoundError(
                "nginx is not installed: apt-get install nginx (scripts/test does)"
            )
        return found

    def start(self, timeout: float = 10) -> None:
        """Start in the foreground of its own session; return once it listens."""
        self.proc = self.topology.spawn(
            self.host,
            [
                self.binary, "-c", str(self.conf), "-p", str(self.directory),
                "-g", "daemon off; user root;",
            ],
            stderr=self.directory / "stderr.log",
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        while not self.host.listening(self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"nginx did not start: {self.log_tail()}")
            time.sleep(0.05)

    def kill(self) -> None:
        """Die at once, as a crashed terminator would (master and workers)."""
        if self.proc is not None:
            stop(self.proc, signal.SIGKILL)

    def log_tail(self, chars: int = 2000) -> str:
        text = ""
        for name in ("stderr.log", "error.log"):
            path = self.directory / name
            if path.exists():
                text += f"--- {name}\n" + path.read_text(errors="replace")[-chars:]
        return text


_HAPROXY_CONF = """\
global
    pidfile {dir}/haproxy.pid
    log stderr format raw local0 info
    maxconn 4096

defaults
    mode tcp
    log global
    option tcplog
    timeout connect 5s
    timeout client 1h
    timeout server 1h

frontend public
    bind {address}:{port}
    default_backend receivers

backend receivers
    balance leastconn
{servers}
"""


class HAProxy:
    """HAProxy on ``host`` balancing TCP over ``backends``, config in ``directory``.

    TCP mode: TLS passes through to the backends untouched (each holds the
    certificate of the public address), and each connection, one WebSocket
    stream, stays on the backend it was given; ``leastconn`` sends the next to
    the one with the fewest open. Every ended connection is a log line on
    stderr (``stderr.log``): ``client [date] public receivers/<server> ...``.
    """

    def __init__(
        self,
        topology: Topology,
        host: Host,
        directory: Path,
        *,
        backends: Mapping[str, str],
        port: int = 443,
    ) -> None:
        """``backends``: server name -> ``HOST:PORT``."""
        self.topology, self.host, self.port = topology, host, port
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.conf = directory / "haproxy.cfg"
        self.conf.write_text(
            _HAPROXY_CONF.format(
                dir=directory,
                address=host.address,
                port=port,
                servers="".join(
                    f"    server {name} {address}\n"
                    for name, address in backends.items()
                ),
            )
        )
        self.proc: subprocess.Popen[bytes] | None = None

    @staticmethod
    def unavailable() -> str | None:
        """Why HAProxy cannot run here (a skip reason), or None when it can."""
        if shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin"):
            return None
        return (
            "haproxy is not installed: apt-get install haproxy "
            "(scripts/system-packages does)"
        )

    @property
    def binary(self) -> str:
        found = shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin")
        if found is None:
            raise FileNotFoundError(self.unavailable())
        return found

    def start(self, timeout: float = 10) -> None:
        """Start in the foreground (``-db``) of its own session; return once it listens."""
        self.proc = self.topology.spawn(
            self.host,
            [self.binary, "-db", "-f", str(self.conf)],
            stderr=self.directory / "stderr.log",
        )
        deadline = time.monotonic() + timeout
        while not self.host.listening(self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"haproxy did not start: {self.log_tail()}")
            time.sleep(0.05)

    def close(self) -> None:
        """Stop it (SIGTERM: a hard stop, which logs the connections it cut)."""
        if self.proc is not None:
            stop(self.proc)

    def sessions(self) -> dict[str, int]:
        """Ended connections per backend server, from the log."""
        counts: dict[str, int] = {}
        path = self.directory / "stderr.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        for line in text.splitlines():
            for word in line.split():
                if word.startswith("receivers/"):
                    name = word.split("/", 1)[1]
                    counts[name] = counts.get(name, 0) + 1
                    break
        return counts

    def log_tail(self, chars: int = 2000) -> str:
        path = self.directory / "stderr.log"
        text = path.read_text(errors="replace")[-chars:] if path.exists() else ""
        return f"--- haproxy stderr.log\n{text}"
