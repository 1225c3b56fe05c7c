"""Serve an ASGI app (REST or SOAP binding) on loopback from a background thread.

Used by the sandbox, the conformance kit's server role and the tests: a real uvicorn
server on a free port, optionally over TLS with a certificate from a local CA.
"""
from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class TlsFiles:
    """Server certificate chain and key (PEM files), plus the CA a client should trust."""

    cert_file: Path
    key_file: Path
    ca_file: Path


def make_local_ca(folder: Path, hostnames: tuple[str, ...] = ("127.0.0.1", "localhost")) -> TlsFiles:
    """Create a local CA and a server certificate for loopback (trustme), as PEM files."""
    import trustme

    folder.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA(organization_name="tongban sandbox CA")
    cert = ca.issue_cert(*hostnames)
    files = TlsFiles(folder / "server.pem", folder / "server.key", folder / "ca.pem")
    cert.private_key_pem.write_to_path(str(files.key_file))
    with open(files.cert_file, "wb") as fh:
        for blob in cert.cert_chain_pems:
            fh.write(blob.bytes())
    ca.cert_pem.write_to_path(str(files.ca_file))
    files.key_file.chmod(0o600)
    return files


class ServerThread:
    """``with ServerThread(app) as srv: httpx.get(srv.url + "/tbs/v1/meta")``."""

    def __init__(self, app: Any, *, host: str = "127.0.0.1", port: int = 0, tls: TlsFiles | None = None,
                 log_level: str = "warning") -> None:
        import uvicorn

        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port))
        self.host, self.port = self._sock.getsockname()[:2]
        self.tls = tls
        kwargs: dict[str, Any] = {}
        if tls is not None:
            kwargs.update(ssl_certfile=str(tls.cert_file), ssl_keyfile=str(tls.key_file))
        config = uvicorn.Config(app, log_level=log_level, access_log=False, lifespan="off",
                                timeout_graceful_shutdown=2, **kwargs)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._sock]},
                                        name=f"tongban-server-{self.port}", daemon=True)

    @property
    def url(self) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> "ServerThread":
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"server on {self.url} did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._sock.close()

    def __enter__(self) -> "ServerThread":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
