"""CATALOG_CONSUMER over MQTT and FILE: the suite pushes to the consumer as a provider would
(publishing at the broker, dropping into the consumer's drop root) and certifies it."""
from __future__ import annotations

import pytest

from tongban.conformance.results import Level, Result, Verdict
from tongban.connectors.mqtt import EmbeddedBroker

from conformance_support import consumer_over, run_consumer


@pytest.fixture(scope="module")
def broker():
    with EmbeddedBroker() as running:
        yield running


@pytest.mark.parametrize("binding", ["MQTT", "FILE"])
def test_a_reference_consumer_over_mqtt_and_file_is_conformant(binding, city, documents, broker, tmp_path):
    place = broker.url if binding == "MQTT" else tmp_path / "drop"
    with consumer_over(binding, city, place) as endpoint:
        run = run_consumer(city, binding, endpoint, documents)
    results = {r.test_id: (r.result.result, r.result.reason) for r in run.runs}
    not_passed = {t: reason for t, (res, reason) in results.items()
                  if res not in (Result.PASS, Result.OMIT) and
                  next(r for r in run.runs if r.test_id == t).test.level is Level.SHALL}
    assert not_passed == {}
    assert {t for t, (res, _) in results.items() if res is Result.SKIP} == set()
    assert results["CC-06"][0] is Result.OMIT            # the standard's applicability: the SUT does not pull
    assert run.role_verdicts() == {"CATALOG_CONSUMER": Verdict.CONFORMANT}
