"""Delta re-certification (TBS-1.1 TBS-CONF-010) against real sandbox systems on loopback HTTPS:
a TBS-1.0 session first, then the TBS-1.1 session that reruns what Table 4.1 says and carries the
rest over."""
from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from click.testing import CliRunner

from tongban.conformance.certificate import verify_directory
from tongban.conformance.certify import CannotRun, certify
from tongban.conformance.cli import conformance
from tongban.conformance.signing import load_or_create_issuer_key, sign

from conformance_support import TOKEN, config, make_app, reference_service, serving, without_follow_ups

BOTH = ("TBS-1.0", "TBS-1.1")
# Table 4.1 of the revision document, read by hand for a county serving four provider roles over REST
RUN_BY_HAND = {"COM-02", "COM-03", "COM-04", "COM-07", "COM-08",          # COM-08: new
               "CP-01", "CP-02", "CP-05", "CP-06", "CR-01", "CR-03", "CR-07", "RP-01", "ER-01", "ER-05"}
CARRIED_BY_HAND = {"COM-01", "COM-05", "COM-06", "CP-03", "CP-04", "CR-02", "CR-04", "CR-05", "CR-06",
                   "RP-02", "RP-03", "RP-04", "ER-02", "ER-03", "ER-04"}
EVALUATION_BY_HAND = {"COM-01", "COM-02", "COM-03", "COM-04", "COM-05", "COM-06", "COM-07", "COM-08",
                      "ER-01", "ER-02", "ER-03", "ER-04", "ER-05"}


@pytest.fixture(scope="module")
def key(tmp_path_factory):
    return load_or_create_issuer_key(tmp_path_factory.mktemp("issuer") / "issuer-key.pem")


@pytest.fixture(scope="module")
def dual(province):
    """A county that lists both versions (the second county of the transition plan)."""
    return province.counties[1]


def _service(system, versions=BOTH):
    service = reference_service(system, "REST")
    service.spec_versions = versions
    return service


def _certify(system, service, tls, documents, out, key, **kw):
    spec = kw.pop("spec_version", "TBS-1.0")
    with serving(make_app(service, "REST"), tls) as url:
        return certify(config(system, url, "REST", tls, documents, spec_version=spec), out, signing_key=key, **kw)


@pytest.fixture(scope="module")
def base(dual, tls, documents, key, tmp_path_factory):
    """The county's TBS-1.0 certificate (every role CONFORMANT)."""
    out = tmp_path_factory.mktemp("base")
    outcome = _certify(dual, _service(dual), tls, documents, out, key)
    assert {v.value for v in outcome.run.role_verdicts().values()} == {"CONFORMANT"}
    return out


def _carried(certificate):
    return {t["testId"] for t in certificate["tests"] if t.get("carriedOver")}


def _ran(certificate):
    return {t["testId"] for t in certificate["tests"] if not t.get("carriedOver")}


def test_a_delta_session_reruns_table_4_1_and_carries_the_rest_over(dual, base, tls, documents, key, tmp_path):
    base_cert = json.loads((base / "certificate.json").read_text(encoding="utf-8"))
    out = tmp_path / "delta"
    outcome = _certify(dual, _service(dual), tls, documents, out, key, spec_version="TBS-1.1",
                       delta_from=base / "certificate.json")
    cert = outcome.certificate
    assert outcome.exit_code == 0
    assert cert["specVersion"] == "TBS-1.1" and cert["suiteVersion"] == "1.1.0"
    assert cert["basedOn"] == base_cert["certificateId"]
    assert {r["verdict"] for r in cert["roles"]} == {"CONFORMANT"}
    assert _ran(cert) == RUN_BY_HAND
    assert _carried(cert) == CARRIED_BY_HAND
    # a carried test keeps its TBS-1.0 result, role by role
    earlier = {(t["testId"], t["role"]): t["result"] for t in base_cert["tests"]}
    assert all(earlier[(t["testId"], t["role"])] == t["result"] for t in cert["tests"] if t.get("carriedOver"))
    assert {t["result"] for t in cert["tests"] if t["testId"] == "COM-05"} == {"OMIT"}   # condition still false
    com08 = next(r for r in outcome.run.runs if r.test_id == "COM-08")
    assert com08.result.result.value == "PASS" and "not checked" in com08.result.reason
    # the suite spoke TBS-1.1 in what it reran, and played a TBS-1.0 partner only in COM-08
    sent = [e["requestHeaders"].get("x-tb-spec-version") for e in outcome.report["exchanges"]]
    assert sent.count("TBS-1.1") > sent.count("TBS-1.0") > 0
    assert outcome.report["session"]["specVersion"] == "TBS-1.1"
    assert outcome.report["delta"]["basedOn"] == base_cert["certificateId"]
    assert {r["mode"] for r in outcome.report["delta"]["roles"].values()} == {"delta"}
    assert verify_directory(out, trusted_key=key.public_key()) == []
    html = (out / "certificate.html").read_text(encoding="utf-8")
    assert base_cert["certificateId"] in html and html.count("carried over</span>") == len(
        [t for t in cert["tests"] if t.get("carriedOver")])


def test_a_tampered_or_foreign_base_certificate_is_refused(dual, base, tls, documents, key, tmp_path, province):
    cert = json.loads((base / "certificate.json").read_text(encoding="utf-8"))

    def refused(changed, *, signed=False, report=True):
        folder = tmp_path / f"base-{len(list(tmp_path.iterdir()))}"
        folder.mkdir()
        (folder / "certificate.json").write_text(json.dumps(sign(changed, key) if signed else changed), encoding="utf-8")
        if report:
            (folder / "report.json").write_text((base / "report.json").read_text(encoding="utf-8"), encoding="utf-8")
        with pytest.raises(CannotRun) as caught:
            _certify(dual, _service(dual), tls, documents, None, key, spec_version="TBS-1.1",
                     delta_from=folder / "certificate.json")
        return str(caught.value)

    tampered = json.loads(json.dumps(cert))
    tampered["tests"][0]["result"] = "FAIL" if tampered["tests"][0]["result"] == "PASS" else "PASS"
    assert "signature does not match" in refused(tampered)
    other = province.counties[0].system_id
    assert f"it certifies {other}, not the system under test {dual.system_id}" in refused(
        {**cert, "systemId": other}, signed=True, report=False)
    assert "its specVersion is 'TBS-1.1'" in refused({**cert, "specVersion": "TBS-1.1"}, signed=True, report=False)
    with pytest.raises(CannotRun, match="give --spec TBS-1.1"):
        _certify(dual, _service(dual), tls, documents, None, key, delta_from=base / "certificate.json")


def test_a_base_older_than_24_months_forces_a_full_run(dual, base, tls, documents, key):
    issued = date.fromisoformat(json.loads((base / "certificate.json").read_text(encoding="utf-8"))["issuedOn"])
    later = issued.replace(year=issued.year + 2) + timedelta(days=1)
    outcome = _certify(dual, _service(dual), tls, documents, None, key, spec_version="TBS-1.1",
                       delta_from=base / "certificate.json", today=later)
    assert "basedOn" not in outcome.certificate
    assert _carried(outcome.certificate) == set()
    assert _ran(outcome.certificate) == RUN_BY_HAND | CARRIED_BY_HAND
    assert all("more than 24 months" in r["reason"] for r in outcome.report["delta"]["roles"].values())
    assert {r["verdict"] for r in outcome.certificate["roles"]} == {"CONFORMANT"}


def test_a_not_conformant_role_is_certified_in_full_the_others_by_delta(dual, tls, documents, key, tmp_path):
    """A TBS-1.0 session whose evaluation feed lacked follow-ups (ER-03 SKIP): EVALUATION_REPORTER
    was NOT_CONFORMANT, so the TBS-1.1 session runs all of its tests; the other roles carry over."""
    base = tmp_path / "base"
    earlier = _certify(dual, _service(without_follow_ups(dual)), tls, documents, base, key)
    assert earlier.run.role_verdicts()["EVALUATION_REPORTER"].value == "NOT_CONFORMANT"
    outcome = _certify(dual, _service(dual), tls, documents, None, key, spec_version="TBS-1.1",
                       delta_from=base / "certificate.json")
    cert = outcome.certificate
    assert cert["basedOn"] == earlier.certificate["certificateId"]
    evaluation = [t for t in cert["tests"] if t["role"] == "EVALUATION_REPORTER"]
    assert {t["testId"] for t in evaluation} == EVALUATION_BY_HAND
    assert not any(t.get("carriedOver") for t in evaluation)
    # COM-01, -05, -06 run for EVALUATION_REPORTER in full; a test runs once and counts for every role
    assert {t["testId"] for t in cert["tests"] if t["role"] == "CASE_REPORTER" and t.get("carriedOver")} == {
        "CR-02", "CR-04", "CR-05", "CR-06"}
    assert outcome.report["delta"]["roles"]["EVALUATION_REPORTER"]["mode"] == "full"
    assert {r["verdict"] for r in cert["roles"]} == {"CONFORMANT"}


def test_a_tbs_1_0_only_system_is_not_conformant_for_tbs_1_1(dual, tls, documents, key, tmp_path):
    base = tmp_path / "base"
    _certify(dual, _service(dual, ("TBS-1.0",)), tls, documents, base, key)
    outcome = _certify(dual, _service(dual, ("TBS-1.0",)), tls, documents, None, key, spec_version="TBS-1.1",
                       delta_from=base / "certificate.json")
    assert outcome.exit_code == 1
    assert {v.value for v in outcome.run.role_verdicts().values()} == {"NOT_CONFORMANT"}
    results = {r.test_id: r.result for r in outcome.run.runs if not r.carried_over}
    assert results["COM-02"].result.value == "FAIL"
    assert any("lacks TBS-1.1" in f.message_en or "could not be read" in f.message_en for f in results["COM-02"].findings)
    assert results["COM-03"].result.value == "FAIL"            # its feeds cannot be read in TBS-1.1
    assert results["COM-08"].result.value == "OMIT" and "lists only TBS-1.0" in results["COM-08"].reason


def test_the_cli_runs_a_delta_session_and_names_a_bad_base(monkeypatch, dual, base, tls, documents, tmp_path):
    monkeypatch.setenv("TBS_CONF_TOKEN", TOKEN)
    attest = tmp_path / "attest.json"
    attest.write_text(json.dumps({"ER-04": {"result": "PASS", "statement": "no default evaluations"}}),
                      encoding="utf-8")
    key_file = base.parent / "cli-issuer.pem"
    # the base must be signed by the issuer key the session signs with: re-issue it with the CLI's key
    base_cert = json.loads((base / "certificate.json").read_text(encoding="utf-8"))
    cli_key = load_or_create_issuer_key(key_file)
    signed = tmp_path / "base"
    signed.mkdir()
    (signed / "certificate.json").write_text(json.dumps(sign(base_cert, cli_key)), encoding="utf-8")
    with serving(make_app(_service(dual), "REST"), tls) as url:
        args = ["run", "--system-id", dual.system_id, "--endpoint", url, "--credential-env", "TBS_CONF_TOKEN",
                "--ca-file", str(tls.ca_file), "--documents", str(documents), "--attestation", str(attest),
                "--signing-key", str(key_file), "--spec", "TBS-1.1"]
        args += [a for role in dual.roles for a in ("--role", role)]
        ok = CliRunner().invoke(conformance, args + ["--delta-from", str(signed / "certificate.json"),
                                                     "--format", "json"])
        assert ok.exit_code == 0, ok.output
        assert json.loads(ok.stdout)["basedOn"] == base_cert["certificateId"]
        assert "carried over" in ok.stderr and "COM-08" in ok.stderr
        missing = CliRunner().invoke(conformance, args + ["--delta-from", str(tmp_path / "nope.json")])
        assert missing.exit_code == 2 and "cannot be read" in missing.output
        foreign = CliRunner().invoke(conformance, args + ["--delta-from", str(base / "certificate.json")])
        assert foreign.exit_code == 2 and "not with the issuer's key" in foreign.output


def _consumer_service(system, versions=BOTH):
    service = _service(system, versions)
    for profile in service.receiver.senders.values():   # the versions it accepts from the suite
        profile.spec_versions = versions
    return service


def test_a_dual_version_consumer_is_delta_certified_with_com_08_over_pushes(province, tls, documents, key, tmp_path):
    """The first city lists both versions and receives the catalog: COM-08 pushes to it as a
    TBS-1.0 and a TBS-1.1 partner (acknowledgements per version, a resend in the other version a
    DUPLICATE, a TBS-1.0-only-valid item rejected in TBS-1.1, a header/body mismatch refused)."""
    city = province.cities[0]
    roles = ("CATALOG_CONSUMER",)

    def run(spec, out=None, **kw):
        with serving(make_app(_consumer_service(city), "REST"), tls) as url:
            return certify(config(city, url, "REST", tls, documents, roles=roles, spec_version=spec), out,
                           signing_key=key, **kw)

    base = run("TBS-1.0", tmp_path / "base")
    assert base.exit_code == 0
    outcome = run("TBS-1.1", delta_from=tmp_path / "base" / "certificate.json")
    cert = outcome.certificate
    assert outcome.exit_code == 0, [(r.test_id, r.result.reason) for r in outcome.run.runs]
    assert cert["basedOn"] == base.certificate["certificateId"]
    # Table 4.1 for CATALOG_CONSUMER on REST, by hand; CC-07 does not apply on REST (OMIT, not carried)
    assert _ran(cert) == {"COM-02", "COM-03", "COM-04", "COM-07", "COM-08", "CC-01", "CC-02", "CC-04", "CC-07"}
    assert _carried(cert) == {"COM-01", "COM-05", "COM-06", "CC-03", "CC-05", "CC-06", "CC-08"}
    com08 = next(r for r in outcome.run.runs if r.test_id == "COM-08")
    assert com08.result.result.value == "PASS"
    notes = {e["note"]: e for e in com08.result.evidence}
    resent = notes["the same item resent as a TBS-1.0 partner (new envelope)"]
    assert resent["ackSpecVersion"] == "TBS-1.0" and resent["counts"]["duplicate"] == 1
    assert notes["an item without onSiteVisits as a TBS-1.1 partner (TBS-1.1 verdict)"]["counts"]["rejected"] == 1
    assert notes["an item without onSiteVisits as a TBS-1.0 partner (TBS-1.0 verdict)"]["counts"]["stored"] == 1
    assert notes["a TBS-1.1 envelope with X-TB-Spec-Version TBS-1.0"]["status"] == 400
    # the CC tests pushed TBS-1.1 envelopes with the TBS-1.1 header
    cc01 = [e for e in outcome.report["exchanges"] if e["method"] == "POST"]
    assert cc01 and all(e["requestHeaders"].get("x-tb-spec-version") in ("TBS-1.0", "TBS-1.1") for e in cc01)
    assert sum(1 for e in cc01 if e["requestHeaders"].get("x-tb-spec-version") == "TBS-1.1") > 10

    # the same city on TBS-1.0 only: not conformant for TBS-1.1, COM-08 does not apply
    with serving(make_app(_consumer_service(city, ("TBS-1.0",)), "REST"), tls) as url:
        only10 = certify(config(city, url, "REST", tls, documents, roles=roles, spec_version="TBS-1.1"), None,
                         signing_key=key)
    results = {r.test_id: r.result for r in only10.run.runs}
    assert only10.exit_code == 1
    assert results["CC-01"].result.value == "FAIL" and results["COM-08"].result.value == "OMIT"
