"""``tongban conformance run|verify|list``: exit codes 0 / 1 / 2, JSON certificate on stdout."""
from __future__ import annotations

import json
import socket

import pytest
from click.testing import CliRunner

from tongban.conformance.cli import conformance
from tongban.conformance.defects import DEFECTS, KIT

from conformance_support import TOKEN, make_app, reference_service, serving


@pytest.fixture()
def env(monkeypatch):
    monkeypatch.setenv("TBS_CONF_TOKEN", TOKEN)


def _attestation(tmp_path):
    path = tmp_path / "attest.json"
    path.write_text(json.dumps({"ER-04": {"result": "PASS", "statement": "no default evaluations"}}), encoding="utf-8")
    return str(path)


def _args(system, url, tls, documents, tmp_path, *extra):
    args = ["run", "--system-id", system.system_id, "--endpoint", url, "--credential-env", "TBS_CONF_TOKEN",
            "--ca-file", str(tls.ca_file), "--documents", str(documents), "--attestation", _attestation(tmp_path)]
    for role in system.roles:
        if role != "CATALOG_CONSUMER":
            args += ["--role", role]
    return args + list(extra)


def test_a_conformant_system_exits_0_and_prints_its_certificate(env, county, tls, documents, tmp_path):
    out = tmp_path / "out"
    with serving(make_app(reference_service(county, "REST"), "REST"), tls) as url:
        result = CliRunner().invoke(conformance, _args(county, url, tls, documents, tmp_path, "--format", "json",
                                                       "--out", str(out)))
    assert result.exit_code == 0, result.output
    cert = json.loads(result.stdout)
    assert cert["systemId"] == county.system_id
    assert {r["verdict"] for r in cert["roles"]} == {"CONFORMANT"}
    assert "COM-07" in result.stderr and "PASS" in result.stderr          # progress per test on stderr
    assert json.loads((out / "certificate.json").read_text(encoding="utf-8")) == cert
    assert cert["signature"]["alg"] == "Ed25519"
    key = tmp_path / "issuer.pem"
    key.write_text(CliRunner().invoke(conformance, ["issuer-key"]).stdout, encoding="utf-8")
    verify = CliRunner().invoke(conformance, ["verify", str(out), "--public-key", str(key)])
    assert verify.exit_code == 0, verify.output
    assert "signature valid" in verify.output
    tampered = {**cert, "validUntil": "2099-12-31"}
    (out / "certificate.json").write_text(json.dumps(tampered), encoding="utf-8")
    bad = CliRunner().invoke(conformance, ["verify", str(out), "--public-key", str(key)])
    assert bad.exit_code == 1 and "signature does not match" in bad.output
    (out / "certificate.json").write_text(json.dumps(cert), encoding="utf-8")
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    report["tests"][0]["reason"] = "edited afterwards"
    (out / "report.json").write_text(json.dumps(report), encoding="utf-8")
    assert CliRunner().invoke(conformance, ["verify", str(out)]).exit_code == 1


def test_a_soap_system_is_run_with_transport_soap(env, county, tls, documents, tmp_path):
    with serving(make_app(reference_service(county, "SOAP"), "SOAP"), tls) as url:
        result = CliRunner().invoke(conformance, _args(county, url, tls, documents, tmp_path, "--transport", "soap"))
    assert result.exit_code == 0, result.output
    assert "CONFORMANT" in result.output


def test_a_defective_system_exits_1(env, county, tls, documents, tmp_path):
    defect = DEFECTS["seq_gap"]
    app = defect.app(defect.service(county), authenticate=defect.authenticate({TOKEN: KIT}))
    with serving(app, tls) as url:
        result = CliRunner().invoke(conformance, _args(county, url, tls, documents, tmp_path, "--format", "json"))
    assert result.exit_code == 1, result.output
    cert = json.loads(result.stdout)
    verdicts = {r["role"]: r["verdict"] for r in cert["roles"]}
    assert verdicts["CASE_REPORTER"] == "NOT_CONFORMANT" and verdicts["CATALOG_PROVIDER"] == "CONFORMANT"
    assert {t["testId"] for t in cert["tests"] if t["result"] == "FAIL"} == {"CR-04"}


def test_an_unreachable_system_exits_2_with_a_clear_message(env, county, tls, documents, tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]          # closed again before the run: nothing listens there
    result = CliRunner().invoke(conformance, _args(county, f"https://127.0.0.1:{port}", tls, documents, tmp_path))
    assert result.exit_code == 2
    assert "unreachable" in result.stderr


@pytest.mark.parametrize("extra, message", [
    (["--credential-env", "TBS_CONF_NOT_SET"], "TBS_CONF_NOT_SET"),
    (["--only", "XX-99"], "unknown test id"),
])
def test_bad_arguments_exit_2(env, county, tls, documents, tmp_path, extra, message):
    result = CliRunner().invoke(conformance, _args(county, "https://127.0.0.1:9", tls, documents, tmp_path, *extra))
    assert result.exit_code == 2
    assert message in result.stderr


def test_an_unknown_role_is_a_usage_error(county):
    result = CliRunner().invoke(conformance, ["run", "--system-id", county.system_id, "--role", "SPECTATOR",
                                              "--endpoint", "https://127.0.0.1:9"])
    assert result.exit_code == 2


def test_the_catalogue_lists_every_test_id():
    result = CliRunner().invoke(conformance, ["list"])
    assert result.exit_code == 0
    for test_id in ("COM-01", "COM-07", "CP-06", "CR-07", "RP-04", "ER-05", "CC-08"):
        assert test_id in result.output


def test_a_transport_other_than_the_registrys_is_warned_about_or_refused(env, county, tls, documents, tmp_path):
    """A certificate admits the binding tested only (TBS-CONF-008): certifying over SOAP a system the
    registry syncs over REST warns (--system-id) or is refused (--partner)."""
    import yaml

    partners = tmp_path / "partners.yaml"
    partners.write_text(yaml.safe_dump({"bus": {"system_id": KIT}, "partners": [
        {"id": county.system_id, "parent": KIT, "transport": "rest", "endpoint": "https://127.0.0.1:9",
         "roles": ["CASE_REPORTER"]}]}), encoding="utf-8")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]          # nothing listens: the run stops after the warning
    warned = CliRunner().invoke(conformance, _args(county, f"https://127.0.0.1:{port}", tls, documents, tmp_path,
                                                   "--transport", "soap", "--partners", str(partners)))
    said = " ".join(warned.stderr.split())   # the console wraps long lines
    assert f"the registry syncs {county.system_id} over REST, this run tests SOAP" in said, said
    assert "will not admit REST traffic (TBS-CONF-008)" in said
    refused = CliRunner().invoke(conformance, ["run", "--partner", county.system_id, "--partners", str(partners),
                                               "--transport", "soap"])
    assert refused.exit_code == 2 and "contradicts the registry's REST" in " ".join(refused.stderr.split())
