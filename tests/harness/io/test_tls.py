"""Real TLS handshakes over loopback with the throwaway material."""

from __future__ import annotations

import socket
import ssl
import threading
from pathlib import Path

import pytest

from harness.io.tls import TlsFiles, client_context, make_tls, server_context


def handshake(files: TlsFiles, client: ssl.SSLContext, host: str = "127.0.0.1") -> str:
    server = server_context(files.cert_file, files.key_file)
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]

        def serve() -> None:
            conn, _ = listener.accept()
            try:
                with server.wrap_socket(conn, server_side=True) as tls:
                    tls.sendall(b"ok")
            except (ssl.SSLError, OSError):
                pass

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
            with client.wrap_socket(raw, server_hostname=host) as tls:
                data = tls.recv(2).decode()
        thread.join(10)
        return data


def test_a_client_trusting_the_ca_verifies_the_server(tls_files: TlsFiles) -> None:
    assert handshake(tls_files, client_context(tls_files.ca_file)) == "ok"


def test_another_ca_is_refused_unless_verification_is_off(
    tmp_path, tls_files: TlsFiles
) -> None:
    other = make_tls(tmp_path)
    with pytest.raises(ssl.SSLCertVerificationError):
        handshake(tls_files, client_context(other.ca_file))
    assert handshake(tls_files, client_context(other.ca_file, verify=False)) == "ok"


def test_the_key_file_is_private(tls_files: TlsFiles) -> None:
    assert tls_files.key_file.stat().st_mode & 0o077 == 0


def test_service_files_keep_the_users_pair_or_make_a_throwaway_one(
    tls_files: TlsFiles, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from harness.io.tls import service_files

    own = service_files(tmp_path / "x", tls_files.cert_file, tls_files.key_file)
    assert own == (tls_files.cert_file, tls_files.key_file, None)
    assert not (tmp_path / "x").exists()
    monkeypatch.chdir(tmp_path)
    cert, key, ca = service_files(Path("run/tls"), None, None)
    assert ca is not None and ca.is_absolute()  # a ready line's path works anywhere
    assert ca == tmp_path / "run" / "tls" / "ca.pem"
    assert key.stat().st_mode & 0o777 == 0o600
    server_context(cert, key)  # the pair loads
