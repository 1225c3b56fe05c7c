"""The report and certificate (TBS-CONF-006/-007) and their verification."""
from __future__ import annotations

import hashlib

import json
import re

import pytest
import rfc8785

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tongban.conformance.certificate import (CERTIFICATE_MEMBERS, EXTENSION_MEMBERS, certificate_problems,
                                             verify_directory, write_outputs)
from tongban.conformance.session import Session
from tongban.conformance.suite import run_suite
from tongban.model.canonical import canonical_sha256

from conformance_support import config, make_app, reference_service, serving


ISSUER_KEY = Ed25519PrivateKey.generate()


@pytest.fixture(scope="module")
def outputs(county, tls, documents, tmp_path_factory):
    with serving(make_app(reference_service(county, "REST"), "REST"), tls) as url:
        session = Session(config(county, url, "REST", tls, documents))
        try:
            run = run_suite(session)
        finally:
            session.close()
    return write_outputs(run, tmp_path_factory.mktemp("certificate"), ISSUER_KEY)


def test_the_certificate_has_the_members_of_tbs_conf_006_and_names_what_was_tested(outputs, county):
    cert = json.loads(outputs.certificate_file.read_text(encoding="utf-8"))
    assert sorted(cert) == sorted(CERTIFICATE_MEMBERS + EXTENSION_MEMBERS)
    report = json.loads(outputs.report_file.read_text(encoding="utf-8"))
    assert cert["endpoint"] == report["session"]["endpoint"] and cert["endpoint"].startswith("https://")
    assert cert["validFrom"] == cert["issuedOn"]
    from datetime import date
    assert (date.fromisoformat(cert["validUntil"]) - date.fromisoformat(cert["validFrom"])).days == 365
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", cert["certificateId"])
    assert cert["systemId"] == county.system_id and cert["bindings"] == ["REST"]
    assert cert["specVersion"] == "TBS-1.0" and cert["suiteVersion"] == "1.0.0"
    assert cert["issuer"] == "TB:province:440000:TONGBAN"
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", cert["issuedOn"])
    assert {r["role"]: r["verdict"] for r in cert["roles"]} == {r: "CONFORMANT" for r in county.roles}
    for t in cert["tests"]:
        assert set(t) == {"testId", "role", "level", "requirementIds", "result"}
        assert t["level"] in ("SHALL", "SHOULD") and t["result"] in ("PASS", "FAIL", "SKIP", "OMIT", "ERROR")
    # a common test counts for every claimed role
    assert sorted(t["role"] for t in cert["tests"] if t["testId"] == "COM-01") == sorted(county.roles)


def test_report_sha256_is_the_sha256_of_the_jcs_of_the_report_file(outputs):
    report = json.loads(outputs.report_file.read_text(encoding="utf-8"))
    cert = json.loads(outputs.certificate_file.read_text(encoding="utf-8"))
    # independent of the code under test: the rfc8785 package's JCS and hashlib
    assert cert["reportSha256"] == hashlib.sha256(rfc8785.dumps(report)).hexdigest()
    assert verify_directory(outputs.folder) == []


def test_the_report_pins_the_session_and_keeps_the_exchanges(outputs):
    report = json.loads(outputs.report_file.read_text(encoding="utf-8"))
    meta = report["session"]
    assert meta["suiteVersion"] == "1.0.0" and meta["specVersion"] == "TBS-1.0"
    assert meta["referenceAllowlist"] == ["91350203M0001QAY9B", "91350211M0000XUF46"]
    assert meta["validator"]["version"]
    assert report["exchanges"] and all("Authorization" not in json.dumps(e) for e in report["exchanges"])
    assert "conformance-test-token" not in outputs.report_file.read_text(encoding="utf-8")   # TBS-SEC-008
    com07 = next(t for t in report["tests"] if t["testId"] == "COM-07")
    assert com07["evidence"] and com07["result"] == "PASS"


def test_verification_detects_a_changed_report_and_a_changed_verdict(outputs, tmp_path):
    report = json.loads(outputs.report_file.read_text(encoding="utf-8"))
    cert = json.loads(outputs.certificate_file.read_text(encoding="utf-8"))
    tampered = json.loads(json.dumps(report))
    tampered["tests"][0]["result"] = "FAIL"
    assert any("reportSha256" in p for p in certificate_problems(cert, tampered))
    forged = json.loads(json.dumps(cert))
    forged["tests"][0]["result"] = "FAIL"
    problems = certificate_problems(forged, report)
    assert any("certificate says FAIL" in p for p in problems) and any("TBS-CONF-003" in p for p in problems)
    (tmp_path / "report.json").write_text(json.dumps(tampered), encoding="utf-8")
    (tmp_path / "certificate.json").write_text(json.dumps(cert), encoding="utf-8")
    assert verify_directory(tmp_path)
    assert verify_directory(tmp_path / "missing")


def test_the_html_certificate_is_self_contained_and_bilingual(outputs, county):
    html = outputs.html_file.read_text(encoding="utf-8")
    assert county.system_id in html and "符合性证书" in html and "Conformance certificate" in html
    assert not re.search(r"""(src|href)\s*=\s*["']?https?:""", html)     # nothing fetched from elsewhere
    assert "<script" not in html
    for test_id in ("COM-01", "CP-01", "CR-01", "RP-01", "ER-01"):
        assert test_id in html


def test_a_genuine_certificate_verifies_and_a_tampered_one_does_not(outputs, tmp_path):
    from cryptography.hazmat.primitives import serialization

    from tongban.conformance.signing import load_public_key

    public = tmp_path / "issuer.pem"
    public.write_bytes(ISSUER_KEY.public_key().public_bytes(serialization.Encoding.PEM,
                                                            serialization.PublicFormat.SubjectPublicKeyInfo))
    trusted = load_public_key(public)
    assert verify_directory(outputs.folder, trusted_key=trusted) == []
    report = json.loads(outputs.report_file.read_text(encoding="utf-8"))
    cert = json.loads(outputs.certificate_file.read_text(encoding="utf-8"))
    for member, value in (("validUntil", "2099-12-31"), ("systemName", "别的系统"), ("endpoint", "https://elsewhere"),
                          ("bindings", ["REST", "SOAP"])):
        tampered = {**cert, member: value}
        problems = certificate_problems(tampered, report, trusted_key=trusted)
        assert any("signature does not match" in p for p in problems), (member, problems)
    # re-signed by someone else: consistent in itself, but not the issuer's signature
    from tongban.conformance.signing import sign

    forged = sign({**cert, "validUntil": "2099-12-31"}, Ed25519PrivateKey.generate())
    assert certificate_problems(forged, report) == []
    assert any("not with the issuer's key" in p for p in certificate_problems(forged, report, trusted_key=trusted))
    unsigned = {k: v for k, v in cert.items() if k != "signature"}
    assert certificate_problems(unsigned, report) == ["the certificate is not signed (no signature member)"]
