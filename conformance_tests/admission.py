"""Recording certificates and the admission gate of TBS-CONF-008.

A system is admitted to production traffic for a role only with a CONFORMANT certificate for
that role and the spec version in use. The *current* certificate of (system, role, spec version)
is the one recorded last: a later NOT_CONFORMANT certificate (a failed re-certification)
withdraws the admission. This is the one module of the conformance kit that uses the store.
"""
from __future__ import annotations

import json
from typing import Any, Iterable

from sqlalchemy import select

from tongban.model.canonical import canonical_bytes
from tongban.store.schema import CertificateRecord
from tongban.store.store import Store, utcnow

from .certificate import CERTIFICATE_MEMBERS


class CertificateError(ValueError):
    """The certificate cannot be recorded (missing members, no roles)."""


def record_certificate(store: Store, certificate: dict[str, Any]) -> list[str]:
    """Store ``certificate`` (one row per role); returns the roles recorded. Recording the same
    certificate twice is a no-op."""
    missing = [m for m in CERTIFICATE_MEMBERS if m not in certificate]
    if missing:
        raise CertificateError(f"certificate lacks {missing} (TBS-CONF-006)")
    roles = [r for r in certificate["roles"] if isinstance(r, dict) and r.get("role") and r.get("verdict")]
    if not roles:
        raise CertificateError("certificate names no role")
    text = canonical_bytes(certificate).decode("utf-8")
    now = utcnow()
    recorded = []
    with store.transaction() as s:
        for entry in roles:
            if s.get(CertificateRecord, (certificate["certificateId"], entry["role"])) is not None:
                continue
            s.add(CertificateRecord(
                certificate_id=certificate["certificateId"], role=entry["role"], system_id=certificate["systemId"],
                verdict=entry["verdict"], bindings=json.dumps(list(certificate["bindings"])),
                spec_version=certificate["specVersion"], suite_version=certificate["suiteVersion"],
                issued_on=certificate["issuedOn"], issuer=certificate["issuer"],
                report_sha256=certificate["reportSha256"], certificate=text, recorded_at=now))
            recorded.append(entry["role"])
    return recorded


def current_certificates(store: Store, system_id: str | None = None) -> dict[tuple[str, str, str], CertificateRecord]:
    """The current row per (system, role, spec version): the one recorded last."""
    stmt = select(CertificateRecord).order_by(CertificateRecord.recorded_at, CertificateRecord.issued_on)
    if system_id is not None:
        stmt = stmt.where(CertificateRecord.system_id == system_id)
    out: dict[tuple[str, str, str], CertificateRecord] = {}
    with store.reading() as s:
        for row in s.scalars(stmt):
            out[(row.system_id, row.role, row.spec_version)] = row
    return out


def is_admitted(store: Store, system_id: str, role: str, spec_version: str, *, binding: str | None = None) -> bool:
    """TBS-CONF-008: a current CONFORMANT certificate for ``role`` and ``spec_version``
    (covering ``binding`` too, when one is named: each newly claimed binding is re-certified)."""
    row = current_certificates(store, system_id).get((system_id, str(getattr(role, "value", role)), spec_version))
    if row is None or row.verdict != "CONFORMANT":
        return False
    return binding is None or binding.upper() in json.loads(row.bindings)


def certification_states(registry: Any, store: Store | None = None) -> dict[str, dict[str, str]]:
    """``{system_id: {role: "CONFORMANT" | "NOT_CONFORMANT"}}`` for the partners of ``registry``,
    at each partner's spec version (what ``tongban partners list`` shows). Roles without a
    certificate are absent; an unmigrated store has none."""
    store = store or Store()
    if "certificates" not in store.table_names():
        return {}
    partners: Iterable[Any] = getattr(registry, "partners", ())
    current = current_certificates(store)
    out: dict[str, dict[str, str]] = {}
    for p in partners:
        spec = getattr(p, "spec_version", "TBS-1.0")
        for (system_id, role, spec_version), row in current.items():
            if system_id == p.id and spec_version == spec:
                out.setdefault(p.id, {})[role] = row.verdict
    return out


__all__ = ["CertificateError", "certification_states", "current_certificates", "is_admitted", "record_certificate"]
