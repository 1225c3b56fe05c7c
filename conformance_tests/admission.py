"""Recording certificates and the admission gate of TBS-CONF-008.

A system is admitted to production traffic for a role only with a CONFORMANT certificate for
that role, the spec version in use and the binding it uses (TBS-CONF-008: each newly claimed
binding is re-certified), within the certificate's validity period. The *current* certificate of
(system, role, spec version, binding) is the one recorded last: a later NOT_CONFORMANT
certificate (a failed re-certification) withdraws the admission. A signed certificate is
recorded only when its signature holds. This is the one module of the conformance kit that uses
the store.
"""
from __future__ import annotations

import json
from typing import Any, Iterable

from sqlalchemy import select

from tongban.model.canonical import canonical_bytes
from tongban.store.schema import CertificateRecord
from tongban.store.store import Store, utcnow

from .certificate import CERTIFICATE_MEMBERS, is_current
from .session import binding_of


TBS_10, TBS_11 = "TBS-1.0", "TBS-1.1"


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
    if "signature" in certificate:
        from .signing import signature_problems

        problems = signature_problems(certificate)
        if problems:
            raise CertificateError("; ".join(problems))
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


Key = tuple[str, str, str, str]
"""(system id, role, spec version, binding)"""


def current_certificates(store: Store, system_id: str | None = None) -> dict[Key, CertificateRecord]:
    """The current row per (system, role, spec version, binding): the one recorded last."""
    stmt = select(CertificateRecord).order_by(CertificateRecord.recorded_at, CertificateRecord.issued_on)
    if system_id is not None:
        stmt = stmt.where(CertificateRecord.system_id == system_id)
    out: dict[Key, CertificateRecord] = {}
    with store.reading() as s:
        for row in s.scalars(stmt):
            for binding in json.loads(row.bindings):
                out[(row.system_id, row.role, row.spec_version, str(binding).upper())] = row
    return out


def _state(row: CertificateRecord | None) -> str | None:
    if row is None:
        return None
    if row.verdict == "CONFORMANT" and not is_current(json.loads(row.certificate)):
        return "EXPIRED"
    return row.verdict


def is_admitted(store: Store, system_id: str, role: str, spec_version: str, binding: str) -> bool:
    """TBS-CONF-008: a current CONFORMANT certificate for ``role``, ``spec_version`` and ``binding``
    (a registry transport such as ``filedrop`` is accepted too), within its validity period."""
    role = str(getattr(role, "value", role))
    current = current_certificates(store, system_id)
    if _state(current.get((system_id, role, spec_version, binding_of(binding)))) == "CONFORMANT":
        return True
    if spec_version == TBS_10:
        # TBS-1.1 TBS-CONF-008: TBS-1.0 traffic is admitted by a TBS-1.1 certificate too when its
        # session ran COM-08 (the suite played a TBS-1.0 partner). "Until the sunset" needs no
        # clock here: after the sunset no TBS-1.0 traffic is negotiated, so nobody asks.
        row = current.get((system_id, role, TBS_11, binding_of(binding)))
        return _state(row) == "CONFORMANT" and ran_com_08(json.loads(row.certificate), role)
    return False


def ran_com_08(certificate: dict[str, Any], role: str) -> bool:
    """The certificate's session ran COM-08 for ``role`` and it passed (not carried over, not
    OMIT: a SUT listing one version only has shown no TBS-1.0 behaviour)."""
    return any(isinstance(t, dict) and t.get("testId") == "COM-08" and t.get("role") == role
               and t.get("result") == "PASS" and not t.get("carriedOver") for t in certificate.get("tests", []))


def certification_states(registry: Any, store: Store | None = None) -> dict[str, dict[str, str]]:
    """``{system_id: {role: "CONFORMANT" | "NOT_CONFORMANT" | "EXPIRED"}}`` for the partners of
    ``registry``, at each partner's spec version and over the binding its registry entry uses
    (what ``tongban partners list`` shows; a certificate for another binding does not count).
    Roles without a certificate are absent; an unmigrated store has none."""
    store = store or Store()
    if "certificates" not in store.table_names():
        return {}
    partners: Iterable[Any] = getattr(registry, "partners", ())
    current = current_certificates(store)
    out: dict[str, dict[str, str]] = {}
    for p in partners:
        spec = getattr(p, "spec_version", "TBS-1.0")
        binding = binding_of(getattr(p, "transport", "rest"))
        for (system_id, role, spec_version, cert_binding), row in current.items():
            if system_id == p.id and spec_version == spec and cert_binding == binding:
                out.setdefault(p.id, {})[role] = _state(row) or ""
    return out


__all__ = ["CertificateError", "binding_of", "certification_states", "current_certificates", "is_admitted", "record_certificate"]
