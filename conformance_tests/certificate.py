"""The conformance report, the certificate (TBS-CONF-006/-007) and their files.

``report.json`` holds the session metadata, every test with its result, evidence (request and
response excerpts) and findings, and the exchanged messages. ``certificate.json`` has the
members of TBS-CONF-006 and what a certificate carries besides (the system's name, the endpoint
tested, the validity period, the issuer's Ed25519 signature, see INTERPRETATIONS.md); its
``reportSha256`` is the SHA-256 of the JCS of the complete report (TBS-CONF-007), so
:func:`verify_directory` can recompute it from ``report.json`` and check the signature.
``certificate.html`` renders the certificate for people (self-contained, no external assets).
"""
from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from tongban.model.canonical import canonical_sha256
from tongban.model.clock import CST

from .results import Level, Result, Verdict, role_verdict
from .suite import SuiteRun

REPORT_FILE = "report.json"
CERTIFICATE_FILE = "certificate.json"
HTML_FILE = "certificate.html"
CERTIFICATE_MEMBERS = ("certificateId", "systemId", "roles", "bindings", "specVersion", "suiteVersion", "issuedOn",
                       "issuer", "tests", "reportSha256")
"""The members TBS-CONF-006 requires."""
OPTIONAL_MEMBERS = ("basedOn",)
"""Optional members of TBS-CONF-006 as TBS-1.1 changes it (TBS-CONF-010: the certificate whose
results were carried over)."""
EXTENSION_MEMBERS = ("systemName", "endpoint", "validFrom", "validUntil", "signature")
"""Members tongban adds (INTERPRETATIONS.md): who and what was tested, until when, signed by whom."""
VALID_DAYS = 365


def _stamp(value: datetime | None) -> str | None:
    return value.astimezone(CST).isoformat(timespec="seconds") if value else None


def build_report(run: SuiteRun) -> dict[str, Any]:
    """The complete conformance report of a run (TBS-CONF-007); JSON values only, no floats."""
    session = run.session
    verdicts = run.role_verdicts()
    tests = []
    for r in run.runs:
        tests.append({
            "testId": r.test_id, "level": r.test.level.value, "roles": r.roles, "requirementIds": r.requirement_ids,
            "bindings": list(r.test.bindings), "description": r.test.description, "result": r.result.result.value,
            "reason": r.result.reason, "millis": int(r.seconds * 1000),
            "evidence": _jsonable(r.result.evidence), "findings": [f.to_json() for f in r.result.findings]})
        if r.carried_over:
            tests[-1]["carriedOver"] = True
    report: dict[str, Any] = {
        "kind": "tongban-conformance-report",
        "session": {"sessionId": session.session_id, "startedAt": _stamp(session.started_at),
                    "finishedAt": _stamp(run.finished_at), **session.config.metadata()},
        "roles": [{"role": role, "verdict": v.value} for role, v in verdicts.items()],
        "tests": tests,
        "exchanges": _jsonable(session.exchanges),
    }
    if run.delta is not None:   # TBS-CONF-010: per role, delta (what ran, what carried over) or in full
        report["delta"] = _jsonable(run.delta.as_json())
    return report


def _jsonable(value: Any) -> Any:
    """A copy holding only JSON types (floats rounded to integers: JCS of the report stays simple)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_jsonable(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return value
    if isinstance(value, float):
        return int(round(value))
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def build_certificate(run: SuiteRun, report: dict[str, Any], *, issued_on: str | None = None,
                      signing_key: Any = None) -> dict[str, Any]:
    """The certificate of TBS-CONF-006 for ``run``; ``reportSha256`` binds it to ``report``, the
    issuer's Ed25519 ``signing_key`` (when given) signs it."""
    cfg = run.session.config
    issued = date.fromisoformat(issued_on) if issued_on else datetime.now(CST).date()
    tests = [{"testId": r.test_id, "role": role, "level": r.test.level.value, "requirementIds": r.requirement_ids,
              "result": r.result.result.value, **({"carriedOver": True} if r.carried_over else {})}
             for r in run.runs for role in r.roles]
    certificate = {
        "certificateId": str(uuid.uuid4()),
        "systemId": cfg.system_id,
        "systemName": cfg.system_name,
        "endpoint": cfg.endpoint,
        "roles": [{"role": role, "verdict": v.value} for role, v in run.role_verdicts().items()],
        "bindings": [cfg.binding],
        "specVersion": cfg.spec_version,
        "suiteVersion": cfg.suite_version,
        "issuedOn": issued.isoformat(),
        "validFrom": issued.isoformat(),
        "validUntil": (issued + timedelta(days=cfg.valid_days)).isoformat(),
        "issuer": cfg.issuer,
        "tests": tests,
        "reportSha256": canonical_sha256(report),
    }
    if run.based_on is not None:
        certificate["basedOn"] = run.based_on
    if signing_key is not None:
        from .signing import sign

        certificate = sign(certificate, signing_key)
    return certificate


@dataclass(frozen=True)
class Outputs:
    folder: Path
    report: dict[str, Any]
    certificate: dict[str, Any]

    @property
    def report_file(self) -> Path:
        return self.folder / REPORT_FILE

    @property
    def certificate_file(self) -> Path:
        return self.folder / CERTIFICATE_FILE

    @property
    def html_file(self) -> Path:
        return self.folder / HTML_FILE


def write_outputs(run: SuiteRun, folder: Path, signing_key: Any = None) -> Outputs:
    """Write report.json, certificate.json (signed with ``signing_key``) and certificate.html
    (titled a certificate only when every claimed role is CONFORMANT) into ``folder``."""
    report = build_report(run)
    certificate = build_certificate(run, report, signing_key=signing_key)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / REPORT_FILE).write_text(json.dumps(report, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    (folder / CERTIFICATE_FILE).write_text(json.dumps(certificate, ensure_ascii=False, indent=2) + "\n",
                                           encoding="utf-8")
    from .certificate_html import render_certificate_html

    (folder / HTML_FILE).write_text(render_certificate_html(certificate, report), encoding="utf-8")
    return Outputs(folder, report, certificate)


def certificate_problems(certificate: Any, report: Any, *, trusted_key: Any = None) -> list[str]:
    """Why ``certificate`` is not the signed certificate of ``report`` (empty when it is);
    ``trusted_key`` is the issuer's published Ed25519 public key, when the verifier has it."""
    if not isinstance(certificate, dict) or not isinstance(report, dict):
        return ["certificate and report must be JSON objects"]
    from .signing import signature_problems

    out = []
    missing = [m for m in CERTIFICATE_MEMBERS if m not in certificate]
    if missing:
        out.append(f"certificate lacks {missing} (TBS-CONF-006)")
    unknown = sorted(set(certificate) - set(CERTIFICATE_MEMBERS) - set(OPTIONAL_MEMBERS) - set(EXTENSION_MEMBERS))
    if unknown:
        out.append(f"certificate has unknown members {unknown}")
    out += signature_problems(certificate, trusted_key)
    digest = canonical_sha256(report)
    if certificate.get("reportSha256") != digest:
        out.append(f"reportSha256 {certificate.get('reportSha256')} does not match the report ({digest})")
    by_test = {t.get("testId"): t.get("result") for t in report.get("tests", []) if isinstance(t, dict)}
    for entry in certificate.get("tests", []) or []:
        if isinstance(entry, dict) and by_test.get(entry.get("testId")) != entry.get("result"):
            out.append(f"{entry.get('testId')}: certificate says {entry.get('result')}, report says "
                       f"{by_test.get(entry.get('testId'))}")
    for role in certificate.get("roles", []) or []:
        if not isinstance(role, dict):
            continue
        shall = [Result(t["result"]) for t in certificate.get("tests", [])
                 if isinstance(t, dict) and t.get("role") == role.get("role") and t.get("level") == Level.SHALL.value
                 and t.get("result") in Result.__members__]
        if role_verdict(shall).value != role.get("verdict"):
            out.append(f"{role.get('role')}: verdict {role.get('verdict')} does not follow from its SHALL tests "
                       "(TBS-CONF-003)")
    return out


def verify_directory(folder: Path, *, trusted_key: Any = None) -> list[str]:
    """Recompute ``reportSha256`` from ``report.json`` and check ``certificate.json`` against it
    and against its signature."""
    try:
        certificate = json.loads((folder / CERTIFICATE_FILE).read_text(encoding="utf-8"))
        report = json.loads((folder / REPORT_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        return [f"missing {Path(exc.filename).name} in {folder}"]
    except ValueError as exc:
        return [f"not JSON: {exc}"]
    return certificate_problems(certificate, report, trusted_key=trusted_key)


def is_current(certificate: dict[str, Any], today: date | None = None) -> bool:
    """Within its validity period (a certificate without one is current)."""
    today = today or datetime.now(CST).date()
    start, end = certificate.get("validFrom"), certificate.get("validUntil")
    return (not start or date.fromisoformat(start) <= today) and (not end or today <= date.fromisoformat(end))
