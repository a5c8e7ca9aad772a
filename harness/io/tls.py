"""Throwaway TLS material for loopback runs (an I/O edge: writes PEM files).

A run makes one private CA and one server certificate for ``127.0.0.1``,
``::1`` and ``localhost``; the platform's HTTPS API and the receivers' wss
servers share it, and every client trusts only that CA. Nothing here is a
secret worth keeping: it dies with the run directory.
"""

from __future__ import annotations

import dataclasses
import ssl
from pathlib import Path

import trustme


__all__ = [
    "TlsFiles",
    "client_context",
    "make_tls",
    "server_context",
    "service_files",
]


@dataclasses.dataclass(frozen=True, slots=True)
class TlsFiles:
    ca_file: Path
    cert_file: Path
    """Server certificate chain (leaf first)."""
    key_file: Path


def make_tls(directory: Path) -> TlsFiles:
    """Create a CA and a loopback server certificate under ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA(organization_name="streamload throwaway CA")
    leaf = ca.issue_cert("127.0.0.1", "::1", "localhost")
    files = TlsFiles(
        directory / "ca.pem", directory / "server.pem", directory / "server.key"
    )
    ca.cert_pem.write_to_path(str(files.ca_file))
    leaf.private_key_pem.write_to_path(str(files.key_file))
    with files.cert_file.open("wb") as out:
        for blob in leaf.cert_chain_pems:
            out.write(blob.bytes())
    files.key_file.chmod(0o600)
    return files


def service_files(
    directory: Path, cert_file: Path | None, key_file: Path | None
) -> tuple[Path, Path, Path | None]:
    """``(cert, key, ca)``: the user's pair (``ca`` is ``None``), or a throwaway one.

    A service started with no certificate makes its own CA and loopback
    certificate under ``directory``; ``ca`` is then the file a client trusts.
    """
    if cert_file is not None and key_file is not None:
        return cert_file, key_file, None
    files = make_tls(directory.absolute())  # the ready line's paths work anywhere
    return files.cert_file, files.key_file, files.ca_file


def server_context(cert_file: Path, key_file: Path) -> ssl.SSLContext:
    """TLS server context for the API and wss servers."""
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert_file, key_file)
    return ctx


def client_context(ca_file: Path | None, *, verify: bool = True) -> ssl.SSLContext:
    """TLS client context trusting ``ca_file`` (or the system store when ``None``).

    ``verify=False`` mirrors ``streamSslValidateCertificate=false``, the
    conference-stream default (contract §5.1).
    """
    ctx = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    if not verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx
