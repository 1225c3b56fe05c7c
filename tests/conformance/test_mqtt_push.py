"""A pushing SUT over MQTT: the suite subscribes at the broker as the bus would, acknowledges
every envelope as TBS-1.0 prescribes, withholds one acknowledgement (COM-05) and certifies."""
from __future__ import annotations

import pytest

from tongban.conformance.results import Level, Result, Verdict
from tongban.connectors.mqtt import EmbeddedBroker

from conformance_support import run_mqtt_push


@pytest.fixture(scope="module")
def broker():
    with EmbeddedBroker() as running:
        yield running


def test_a_reference_county_pushing_over_mqtt_is_conformant(county, documents, broker):
    run, sut = run_mqtt_push(county, broker.url, documents)
    not_passed = {r.test_id: r.result.reason for r in run.runs
                  if r.test.level is Level.SHALL and r.result.result not in (Result.PASS, Result.OMIT)}
    assert not_passed == {}
    assert run.role_verdicts() == {role: Verdict.CONFORMANT for role in county.roles}
    results = {r.test_id: r.result.result for r in run.runs}
    assert results["COM-05"] is Result.PASS                    # the withheld envelope was resent …
    assert len(sut.unacknowledged) == 1                        # … exactly once
    omitted = {t for t, r in results.items() if r is Result.OMIT}
    assert omitted == {"COM-02", "COM-07", "CP-02"}            # meta and changes feeds are REST/SOAP only
