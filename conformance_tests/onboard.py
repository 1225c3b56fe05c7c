"""Onboarding a partner from the registry: certify it, then record the certificate.

What the ``onboard_partner`` DAG's tasks call: the same :func:`~tongban.conformance.certify.certify`
entry point as ``tongban conformance run``, with the session built from the partner's registry
entry (endpoint, transport, credential variables, CA file, documents folder) and the bus acting
as the testing authority and as the suite's identity.
"""
from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

from .certify import EXIT_COULD_NOT_RUN, certify
from .session import SessionConfig, binding_of


class OnboardingError(RuntimeError):
    """The partner could not be certified (unknown partner, unreachable, harness error)."""


def partner_session_config(registry: Any, system_id: str, roles: Sequence[str] = (), *,
                           attestations: dict[str, Any] | None = None) -> SessionConfig:
    """A :class:`SessionConfig` for the registry partner ``system_id`` (roles default to its claims)."""
    try:
        partner = registry.get(system_id)
    except KeyError as exc:
        raise OnboardingError(str(exc)) from exc
    claimed = [getattr(r, "value", r) for r in partner.roles]
    roles = list(roles) or claimed
    unclaimed = sorted(set(roles) - set(claimed))
    if unclaimed:
        raise OnboardingError(f"{system_id} does not claim {unclaimed} in the registry (TBS-CONF-001)")
    creds = partner.credentials
    key = creds.hmac_key()
    return SessionConfig(
        system_id=partner.id, roles=tuple(roles), binding=binding_of(partner.transport),
        endpoint=partner.endpoint, token=creds.token(), ca_file=partner.ca_file,
        kit_system_id=registry.bus.system_id, issuer=registry.bus.system_id,
        documents_dir=Path(partner.documents_dir) if partner.documents_dir else None,
        attestations=dict(attestations or {}), sut_keys={creds.key_id or "default": key} if key else {},
        system_name=partner.name or None)


def check_attestations(attestations: Any) -> None:
    """Refuse malformed attestations (TBS-CONF-009) with what and where, before any test runs."""
    if not isinstance(attestations, dict):
        raise OnboardingError(f"attestations must be an object of test id → attestation, got {type(attestations).__name__}")
    for test_id, a in attestations.items():
        if not isinstance(a, dict) or a.get("result") not in ("PASS", "FAIL"):
            raise OnboardingError(f"attestation {test_id!r}: needs \"result\": \"PASS\" or \"FAIL\", got {a!r}")
        if not isinstance(a.get("statement"), str) or not a["statement"].strip():
            raise OnboardingError(f"attestation {test_id!r}: needs a non-empty \"statement\" (what is attested)")


def certify_partner(system_id: str, roles: Sequence[str] = (), *, registry_path: str | None = None,
                    out_root: str | None = None, attestation_file: str | None = None,
                    signing_key_file: str | None = None, progress: Any = None,
                    attestations: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run the suite against a registry partner; returns the certificate (signed with the issuer's
    key, ``$TONGBAN_HOME/conformance/issuer-key.pem`` by default) and where the files are."""
    from tongban.registry import load_registry
    from tongban.store.config import home_dir

    from .signing import load_or_create_issuer_key

    registry = load_registry(registry_path)
    if attestation_file:  # attestations given inline (the onboard_partner DAG's parameter) win per test id
        attestations = {**json.loads(Path(attestation_file).read_text(encoding="utf-8")), **(attestations or {})}
    check_attestations(attestations or {})
    config = partner_session_config(registry, system_id, roles, attestations=attestations)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    slug = system_id.replace(":", "_")
    folder = Path(out_root or os.environ.get("TONGBAN_CONFORMANCE_DIR") or home_dir() / "conformance") / slug / stamp
    key = load_or_create_issuer_key(Path(signing_key_file) if signing_key_file
                                    else home_dir() / "conformance" / "issuer-key.pem")
    outcome = certify(config, folder, signing_key=key, progress=progress)
    if outcome.exit_code == EXIT_COULD_NOT_RUN:
        failed = [r.test_id for r in outcome.run.runs if r.result.result.value == "ERROR"]
        raise OnboardingError(f"the suite could not run against {system_id}: harness errors in {failed}; "
                              f"see {folder}")
    return {"certificate": outcome.certificate, "folder": str(folder), "exitCode": outcome.exit_code,
            "verdicts": {k: v.value for k, v in outcome.run.role_verdicts().items()}}


def certify_frontdb_writer(system_id: str, roles: Sequence[str], *, database_url: str, profile: str,
                           issuer: str = "tongban conformance kit") -> dict[str, Any]:
    """Certify a FRONTDB writer by what the kit observes on its front database (LP-22: markers,
    manifests, row counts, marker times); the result has the shape of :func:`certify_partner`'s,
    so :func:`record_partner_certificate` records it and admission lets the partner be synced."""
    from tongban.connectors.frontdb.database import FrontDatabase
    from tongban.connectors.frontdb.profile import load_profile

    from .frontdb_writer import lp22_batches, writer_certificate

    prof = load_profile(profile.split(" ")[0])
    db = FrontDatabase(database_url, prof, prof.tables_for(set(roles)))
    try:
        results = {"LP-22": lp22_batches(db)}
    finally:
        db.close()
    cert = writer_certificate(system_id, list(roles), results, issuer=issuer)
    return {"certificate": cert, "folder": "", "exitCode": 0 if all(
        r.result.value == "PASS" for r in results.values()) else 1,
            "verdicts": {r["role"]: r["verdict"] for r in cert["roles"]}}


def record_partner_certificate(result: dict[str, Any], *, database_url: str | None = None) -> list[str]:
    """Record the certificate of :func:`certify_partner` in the store (TBS-CONF-008): the one at
    ``database_url`` (the DAG passes its connection's), else the configured store."""
    from tongban.store import Store

    from .admission import record_certificate

    store = Store(database_url)
    try:
        store.ensure_schema()
        return record_certificate(store, result["certificate"])
    finally:
        store.dispose()
