"""Mutual TLS for the REST and SOAP servers (TBS-SEC-001: a client certificate bound to exactly
one system identifier in the partner profile).

The server asks every client for a certificate of the configured client CA (TLS verifies the
chain and the validity period; a client without one may still use a bearer token). The
certificate the client presented travels with each request (``scope["extensions"]["tls"]``,
added by :mod:`tongban.connectors.serving`), and :class:`ClientCertificates` names the system it
is bound to — by SHA-256 fingerprint, or by subject — which then takes the place of the bearer
token's identity; the servers' TBS-SEC-002 checks (``X-TB-Sender``, envelope ``sender``) apply to
it unchanged. A presented certificate that is bound to no system, revoked or outside its validity
period is refused (401), whatever token comes with it.

Rotation: a system may have several certificates bound at once; :meth:`ClientCertificates.bind`,
:meth:`~ClientCertificates.unbind`, :meth:`~ClientCertificates.replace` and
:meth:`~ClientCertificates.revoke` take effect on the next request, without a restart.
"""
from __future__ import annotations

import hashlib
import threading
from datetime import datetime, timezone
from typing import Any, Callable, Iterable, Mapping

from cryptography import x509

__all__ = ["ClientCertificates", "MutualTlsAuthenticator", "fingerprint", "client_certificate", "caller_of"]


def fingerprint(der: bytes) -> str:
    """``sha256:`` and the lowercase hex SHA-256 of the DER certificate."""
    return "sha256:" + hashlib.sha256(der).hexdigest()


def _subject(cert: x509.Certificate) -> str:
    return cert.subject.rfc4514_string()


class ClientCertificates:
    """Which client certificate belongs to which system (see the module docstring).

    ``bindings`` maps a system identifier to its certificates, each a ``sha256:…`` fingerprint
    or a subject (RFC 4514, e.g. ``CN=LWZWFW,O=…``). A certificate bound to two systems is
    refused: it would not name exactly one.
    """

    def __init__(self, bindings: Mapping[str, Iterable[str]] | None = None, *, revoked: Iterable[str] = (),
                 clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)) -> None:
        self._lock = threading.Lock()
        self._bound: dict[str, set[str]] = {}
        self._revoked: set[str] = {r.lower() for r in revoked}
        self.clock = clock
        for system_id, names in (bindings or {}).items():
            for name in names:
                self.bind(system_id, name)

    @staticmethod
    def _key(name: str) -> str:
        return name.lower() if name.lower().startswith("sha256:") else name

    def bind(self, system_id: str, certificate: str) -> None:
        with self._lock:
            self._bound.setdefault(self._key(certificate), set()).add(system_id)

    def unbind(self, system_id: str, certificate: str) -> None:
        with self._lock:
            owners = self._bound.get(self._key(certificate), set())
            owners.discard(system_id)
            if not owners:
                self._bound.pop(self._key(certificate), None)

    def replace(self, bindings: Mapping[str, Iterable[str]]) -> None:
        """Bind exactly ``bindings`` from the next request on (e.g. the registry read again):
        certificates no longer listed are unbound, new ones bound; revocations stay."""
        bound: dict[str, set[str]] = {}
        for system_id, names in bindings.items():
            for name in names:
                bound.setdefault(self._key(name), set()).add(system_id)
        with self._lock:
            self._bound = bound

    def revoke(self, fingerprint_: str) -> None:
        with self._lock:
            self._revoked.add(fingerprint_.lower())

    def identify(self, der: bytes) -> str | None:
        """The one system this certificate is bound to, or None (unknown, ambiguous, revoked,
        expired or not yet valid)."""
        try:
            cert = x509.load_der_x509_certificate(der)
        except ValueError:
            return None
        now = self.clock()
        if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
            return None
        fp = fingerprint(der)
        with self._lock:
            if fp in self._revoked:
                return None
            owners = self._bound.get(fp, set()) | self._bound.get(_subject(cert), set())
        return next(iter(owners)) if len(owners) == 1 else None


class MutualTlsAuthenticator:
    """The servers' ``authenticate``: bearer tokens as before (``tokens``), plus the identity of a
    client certificate (:meth:`certificate`)."""

    def __init__(self, certificates: ClientCertificates,
                 tokens: Callable[[str | None], str | None] | None = None) -> None:
        self.certificates = certificates
        self.tokens = tokens

    def __call__(self, token: str | None) -> str | None:
        return self.tokens(token) if self.tokens is not None else None

    def certificate(self, der: bytes) -> str | None:
        return self.certificates.identify(der)


def client_certificate(scope: Mapping[str, Any]) -> bytes | None:
    """The DER certificate the client presented on this request's connection, if any."""
    return ((scope.get("extensions") or {}).get("tls") or {}).get("client_cert_der")


def caller_of(authenticate: Callable[[str | None], str | None], token: str | None,
              scope: Mapping[str, Any]) -> str | None:
    """The authenticated system of a request (TBS-SEC-001): a presented client certificate when
    the server knows certificates (it then decides alone), otherwise the bearer token."""
    der = client_certificate(scope)
    by_certificate = getattr(authenticate, "certificate", None)
    if der is not None and by_certificate is not None:
        return by_certificate(der)
    return authenticate(token)
