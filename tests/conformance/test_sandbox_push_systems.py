"""The conformance suite against the sandbox's own pushing systems, as registered by the sandbox
(the registry path an integrator uses: ``partner_session_config``), for every role they play.

A SKIP blocks a role (TBS-CONF-003); the suite may report one only for a reason the standard
gives — the SUT's data lacks the path a test needs — never because the kit cannot observe or
drive the binding. TBS-CONF-009's attestation stands in where the standard says a requirement
is not observable automatically (COM-01 over MQTT: broker authentication; ER-04)."""
from __future__ import annotations

import pytest

from tongban.conformance.onboard import partner_session_config
from tongban.conformance.results import Level, Result, Verdict
from tongban.conformance.session import Session
from tongban.conformance.suite import run_suite
from tongban.connectors.mqtt import EmbeddedBroker
from tongban.registry import load_registry
from tongban.sandbox.runtime import Sandbox

ATTESTATIONS = {
    "ER-04": {"result": "PASS", "statement": "sandbox systems emit only citizen evaluations (TBS-EVAL-008)",
              "evidence": "tongban/sandbox/evaluations.py"},
    "COM-01": {"result": "PASS", "statement": "TLS and broker authentication, client identifier = systemCode "
                                              "(broker configuration, TBS-SEC-001)"},
}

# What the standard lets a test be SKIP for: the SUT's data lacks what it needs (§20.2 "reports
# SKIP when the feeds lack them"). Reasons naming the kit, the suite's automation or an
# attestation still missing are the kit's shortcomings.
KIT_REASONS = ("not automated", "suite 1.0.0", "not observable", "attestation is required", "could not subscribe",
               "cannot subscribe", "does not push over", "published nothing", "pushed nothing")


@pytest.fixture(scope="module")
def broker():
    with EmbeddedBroker() as running:   # its own broker: no other test's envelopes on its topics
        yield running


def _certify(registry_file, system_id: str):
    registry = load_registry(registry_file)
    config = partner_session_config(registry, system_id, attestations=ATTESTATIONS)
    session = Session(config)
    try:
        return run_suite(session)
    finally:
        session.close()


def test_the_sandbox_mqtt_systems_are_certified_for_every_role_without_a_kit_skip(broker, tmp_path):
    # the province hub serves REST, the city MQTT, the county REST: one system publishes on the
    # broker, as on a testing authority's broker during a certification
    with Sandbox(tmp_path / "sandbox", seed=11, cities=1, counties=1, transports=("rest", "mqtt"),
                 insecure_http=True, broker_url=broker.url) as sandbox:
        pushing = [r for r in sandbox.running if r.transport == "mqtt"]
        assert [r.system.level for r in pushing] == ["city"]
        roles_seen = set()
        for running in pushing:
            sender = sandbox.send_over_mqtt(running.system.system_id)
            run = _certify(sandbox.registry_file, running.system.system_id)
            results = {r.test_id: r.result for r in run.runs}
            skips = {t: r.reason for t, r in results.items() if r.result is Result.SKIP}
            assert not [t for t, reason in skips.items() if any(s in (reason or "") for s in KIT_REASONS)], skips
            not_passed = {r.test_id: (r.result.result.value, r.result.reason) for r in run.runs
                          if r.test.level is Level.SHALL and r.result.result not in (Result.PASS, Result.OMIT)}
            details = {r.test_id: [str(f)[:300] for f in r.result.findings][:3]
                       for r in run.runs if r.test_id in not_passed}
            assert not_passed == {}, (running.system.system_id, not_passed, details)
            assert run.role_verdicts() == {role: Verdict.CONFORMANT for role in running.system.roles}
            # the suite withheld one acknowledgement and the system resent the records (COM-05)
            assert results["COM-05"].result is Result.PASS
            assert len(sender.sent) > len(sender.acknowledged) == len(sender.chunks())
            roles_seen |= set(running.system.roles)
        assert roles_seen == {"CATALOG_PROVIDER", "CASE_REPORTER", "RESULT_PUBLISHER", "EVALUATION_REPORTER",
                              "CATALOG_CONSUMER"}



def test_the_sandbox_file_drop_systems_are_certified_for_their_roles_without_a_kit_skip(tmp_path):
    """The province hub and the city serve REST, the county drops files: the county, certified
    from the sandbox's registry over FILE for its four provider roles (its batches are resent
    until acknowledged). The sandbox has no file-drop CATALOG_CONSUMER: a
    consumer over FILE needs a second drop root (bus → system, TBS-FILE-001), which a registry
    entry's one endpoint cannot name."""
    with Sandbox(tmp_path / "sandbox", seed=11, cities=1, counties=1, transports=("rest", "rest", "filedrop"),
                 insecure_http=True) as sandbox:
        dropping = [r for r in sandbox.running if r.transport == "filedrop"]
        assert [r.system.level for r in dropping] == ["county"]
        for running in dropping:
            run = _certify(sandbox.registry_file, running.system.system_id)
            results = {r.test_id: r.result for r in run.runs}
            skips = {t: r.reason for t, r in results.items() if r.result is Result.SKIP}
            assert not [t for t, reason in skips.items() if any(s in (reason or "") for s in KIT_REASONS)], skips
            not_passed = {r.test_id: (r.result.result.value, r.result.reason) for r in run.runs
                          if r.test.level is Level.SHALL and r.result.result not in (Result.PASS, Result.OMIT)}
            assert not_passed == {}, (running.system.system_id, not_passed)
            assert run.role_verdicts() == {role: Verdict.CONFORMANT for role in running.system.roles}
            assert results["COM-05"].result is Result.PASS   # the withheld batch's records came again
