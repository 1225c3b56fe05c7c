"""Mutual TLS for the REST and SOAP servers and clients (TBS-SEC-001, -002): real servers on
loopback asking for client certificates of the sandbox's local CA."""
from __future__ import annotations

import ssl
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from tongban.connectors.base import ConnectorError
from tongban.connectors.mtls import ClientCertificates, MutualTlsAuthenticator, fingerprint
from tongban.connectors.rest.client import RestConnector
from tongban.connectors.rest.server import create_rest_app, token_table
from tongban.connectors.serving import ServerThread, TlsFiles, issue_client_certificate, make_local_ca
from tongban.connectors.soap.server import create_soap_app
from tongban.sandbox.feed import SandboxService
from tongban.sandbox.generate import generate_province

BUS = "TB:province:440000:TONGBAN"
OTHER = "TB:department:440000:GDSJJ"
TOKEN = "bearer-token-of-the-bus-0123456789abcdef"


def der_of(pem_file) -> bytes:
    return ssl.PEM_cert_to_DER_cert(pem_file.read_text())


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pki")
    tls = make_local_ca(folder)
    now = datetime.now(timezone.utc)
    certs = {
        "bus1": issue_client_certificate(folder, "TONGBAN", name="bus1"),
        "bus2": issue_client_certificate(folder, "TONGBAN", name="bus2"),   # the rotation's next certificate
        "other": issue_client_certificate(folder, "GDSJJ", name="other"),
        "unbound": issue_client_certificate(folder, "NOBODY", name="unbound"),
        "expired": issue_client_certificate(folder, "TONGBAN", name="expired", not_before=now - timedelta(days=30),
                                            not_after=now - timedelta(days=1)),
    }
    foreign = make_local_ca(folder / "foreign")
    certs["foreign"] = issue_client_certificate(folder / "foreign", "TONGBAN", name="foreign")
    return TlsFiles(tls.cert_file, tls.key_file, tls.ca_file, client_ca_file=tls.ca_file), certs, foreign


@pytest.fixture(scope="module")
def county():
    return generate_province(3).counties[0]


@pytest.fixture
def servers(pki, county):
    tls, certs, _ = pki
    table = ClientCertificates({BUS: [fingerprint(der_of(certs["bus1"][0]))],
                                OTHER: [fingerprint(der_of(certs["other"][0]))]})
    authenticate = MutualTlsAuthenticator(table, token_table({TOKEN: BUS}))
    service = SandboxService(county, bindings=("REST", "SOAP"))
    rest = ServerThread(create_rest_app(service, authenticate=authenticate), tls=tls).start()
    soap = ServerThread(create_soap_app(service, authenticate=authenticate), tls=tls).start()
    yield table, rest, soap
    rest.stop()
    soap.stop()


def client(tls: TlsFiles, cert=None) -> httpx.Client:
    context = ssl.create_default_context(cafile=str(tls.ca_file))
    if cert is not None:
        context.load_cert_chain(*map(str, cert))
    return httpx.Client(verify=context, timeout=10)


def meta(http: httpx.Client, server: ServerThread, sender: str = BUS, token: str | None = None) -> httpx.Response:
    headers = {"X-TB-Sender": sender, "X-TB-Spec-Version": "TBS-1.0"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return http.get(f"{server.url}/tbs/v1/meta", headers=headers)


def test_the_certificate_identity_takes_the_place_of_the_bearer_token(pki, servers, county):
    tls, certs, _ = pki
    _, rest, _ = servers
    with client(tls, certs["bus1"]) as http:
        answer = meta(http, rest)                      # no token at all
    assert answer.status_code == 200 and answer.json()["systemId"] == county.system_id
    with client(tls) as http:                          # no certificate: the bearer token still works
        assert meta(http, rest, token=TOKEN).status_code == 200
        assert meta(http, rest).status_code == 401


def test_a_partner_with_the_certificate_of_another_system_is_forbidden(pki, servers):
    tls, certs, _ = pki
    _, rest, soap = servers
    with client(tls, certs["other"]) as http:          # OTHER's certificate, claiming to be the bus
        answer = meta(http, rest, sender=BUS, token=TOKEN)
        assert answer.status_code == 403 and answer.json()["ruleId"] == "TBS-SEC-002"
        fault = http.post(f"{soap.url}/tbs/v1/soap", content=b"<x/>", headers={
            "X-TB-Sender": BUS, "X-TB-Spec-Version": "TBS-1.0", "Content-Type": "text/xml; charset=utf-8",
            "SOAPAction": '"urn:tbs:1.0#GetMeta"'})
        assert fault.status_code == 500 and b"FORBIDDEN" in fault.content


def test_an_unbound_revoked_expired_or_foreign_certificate_is_refused(pki, servers):
    tls, certs, _ = pki
    table, rest, _ = servers
    with client(tls, certs["unbound"]) as http:        # a certificate decides alone: the token does not help
        assert meta(http, rest, token=TOKEN).status_code == 401
    table.revoke(fingerprint(der_of(certs["bus1"][0])))
    with client(tls, certs["bus1"]) as http:
        answer = meta(http, rest)
        assert answer.status_code == 401 and answer.json()["ruleId"] == "TBS-SEC-001"
    for name in ("expired", "foreign"):               # the TLS handshake itself refuses them
        with client(tls, certs[name]) as http, pytest.raises(httpx.TransportError):
            meta(http, rest).raise_for_status()


def test_two_certificates_per_partner_during_a_rotation_without_restart(pki, servers):
    tls, certs, _ = pki
    table, rest, _ = servers
    old, new = (fingerprint(der_of(certs[n][0])) for n in ("bus1", "bus2"))
    with client(tls, certs["bus2"]) as http:
        assert meta(http, rest).status_code == 401     # not bound yet
    table.bind(BUS, new)                               # the same running server
    for name in ("bus1", "bus2"):
        with client(tls, certs[name]) as http:
            assert meta(http, rest).status_code == 200
    table.unbind(BUS, old)
    with client(tls, certs["bus1"]) as http:
        assert meta(http, rest).status_code == 401
    with client(tls, certs["bus2"]) as http:
        assert meta(http, rest).status_code == 200


def test_the_rest_client_presents_its_certificate(pki, servers, county):
    tls, certs, _ = pki
    _, rest, _ = servers
    with RestConnector(rest.url, sender=BUS, verify=str(tls.ca_file), cert=tuple(map(str, certs["bus1"])),
                       retries=0) as connector:
        assert connector.meta()["systemId"] == county.system_id
    with RestConnector(rest.url, sender=BUS, verify=str(tls.ca_file), retries=0) as connector:
        with pytest.raises(ConnectorError, match="401|UNAUTHENTICATED"):
            connector.meta()


def test_the_soap_client_presents_its_certificate(pki, servers, county):
    """SOAP over mutual TLS: the certificate alone authenticates a call; without it (and without
    a token) the call is refused with a Client fault (TBS-SEC-001, TBS-SOAP-005)."""
    from tongban.connectors.soap.client import SoapConnector

    tls, certs, _ = pki
    _, _, soap = servers
    with SoapConnector(f"{soap.url}/tbs/v1/soap", sender=BUS, verify=str(tls.ca_file),
                       cert=tuple(map(str, certs["bus1"])), retries=0) as connector:
        assert connector.meta()["systemId"] == county.system_id
    with SoapConnector(f"{soap.url}/tbs/v1/soap", sender=BUS, verify=str(tls.ca_file), retries=0) as connector:
        with pytest.raises(ConnectorError, match="UNAUTHENTICATED"):
            connector.meta()


def test_a_subject_can_name_the_certificate_instead_of_a_fingerprint(pki):
    _, certs, _ = pki
    from cryptography import x509

    subject = x509.load_der_x509_certificate(der_of(certs["other"][0])).subject.rfc4514_string()
    table = ClientCertificates({OTHER: [subject]})
    assert table.identify(der_of(certs["other"][0])) == OTHER
    assert table.identify(der_of(certs["bus1"][0])) is None
    table.bind(BUS, subject)                            # one certificate may not name two systems
    assert table.identify(der_of(certs["other"][0])) is None
