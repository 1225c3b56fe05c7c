"""certificate.html renders in headless Chromium: a screenshot is taken, and the rendered page
shows the system id, each role's verdict and every test id; a non-conformant result is not
titled a certificate and says why, a conformant one carries the system's name, the endpoint
tested, its validity period and the issuer's Ed25519 signature."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from lxml import html as lxml_html

from tongban.conformance.certificate import write_outputs
from tongban.conformance.session import Session
from tongban.conformance.suite import run_suite

from conformance_support import config, make_app, reference_service, serving, without_follow_ups

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(),
                                reason="headless Chromium is not installed (/usr/bin/chromium; Debian package "
                                       "`chromium`): the certificate rendering test cannot run")


@pytest.fixture(scope="module")
def signed(county, tls, documents, tmp_path_factory):
    """A genuine certificate: the first county, every role conformant, named and signed by the issuer."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    with serving(make_app(reference_service(county, "REST"), "REST"), tls) as url:
        session = Session(config(county, url, "REST", tls, documents, system_name=county.name))
        try:
            run = run_suite(session)
        finally:
            session.close()
    return write_outputs(run, tmp_path_factory.mktemp("signed"), Ed25519PrivateKey.generate())


@pytest.fixture(scope="module")
def outputs(city, tls, documents, tmp_path_factory):
    """A real certificate with a verdict of each kind: the first city, its follow-up evaluations left out."""
    city = without_follow_ups(city)
    with serving(make_app(reference_service(city, "REST"), "REST"), tls) as url:
        session = Session(config(city, url, "REST", tls, documents))
        try:
            run = run_suite(session)
        finally:
            session.close()
    return write_outputs(run, tmp_path_factory.mktemp("rendered"))


def _chromium(*args: str, profile: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True,
                          timeout=180, check=False)


def test_the_certificate_renders_with_every_verdict_and_test_id(outputs, tmp_path):
    page = outputs.html_file.resolve().as_uri()
    shot = tmp_path / "certificate.png"
    done = _chromium(f"--screenshot={shot}", "--window-size=1280,2000", page, profile=tmp_path / "p1")
    assert done.returncode == 0, done.stderr[-2000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000     # a real, non-blank picture

    dom = _chromium("--dump-dom", page, profile=tmp_path / "p2")
    assert dom.returncode == 0, dom.stderr[-2000:]
    tree = lxml_html.fromstring(dom.stdout.decode("utf-8"))
    text = tree.text_content()
    cert = outputs.certificate
    assert cert["systemId"] in tree.get_element_by_id("system-id").text_content()
    rows = {r.xpath("td[1]")[0].text_content(): r.xpath("td[2]")[0].text_content()
            for r in tree.xpath('//table[@id="roles"]/tbody/tr')}
    assert {role: verdict.split()[-1] for role, verdict in rows.items()} == \
        {r["role"]: r["verdict"] for r in cert["roles"]}
    assert "NOT_CONFORMANT" in rows["EVALUATION_REPORTER"] and "CONFORMANT" in rows["CATALOG_CONSUMER"]
    shown = {r.xpath("td[1]")[0].text_content() for r in tree.xpath('//table[@id="tests"]/tbody/tr')}
    assert shown == {t["testId"] for t in cert["tests"]}
    assert cert["reportSha256"] in text
    # not every role is conformant: the page is a test result, not a certificate, and says why
    assert "符合性证书" not in text and "符合性测试结果" in text
    failures = tree.get_element_by_id("failures").text_content()
    assert "ER-" in failures


def test_a_genuine_certificate_renders_as_a_certificate_with_name_endpoint_validity_and_signature(signed, tmp_path):
    page = signed.html_file.resolve().as_uri()
    shot = tmp_path / "certificate-signed.png"
    done = _chromium(f"--screenshot={shot}", "--window-size=1280,2000", page, profile=tmp_path / "p1")
    assert done.returncode == 0, done.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    dom = _chromium("--dump-dom", page, profile=tmp_path / "p2")
    assert dom.returncode == 0, dom.stderr[-2000:]
    tree = lxml_html.fromstring(dom.stdout.decode("utf-8"))
    cert = signed.certificate
    assert {r["verdict"] for r in cert["roles"]} == {"CONFORMANT"}
    assert "符合性证书" in tree.text_content() and not tree.xpath('//*[@id="failures"]')
    shown = {key: tree.get_element_by_id(key).text_content().strip()
             for key in ("system-name", "system-id", "endpoint", "validity", "signature")}
    assert shown["system-name"] == cert["systemName"] and cert["systemName"]
    assert shown["system-id"] == cert["systemId"]
    assert shown["endpoint"] == cert["endpoint"] and cert["endpoint"].startswith("https://127.0.0.1:")
    assert shown["validity"] == f"{cert['validFrom']} — {cert['validUntil']}" and cert["validUntil"] > cert["validFrom"]
    assert shown["signature"] == f"Ed25519, key {cert['signature']['keyId']}"
