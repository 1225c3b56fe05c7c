"""Property-based fuzzing of the bus's REST edge with schemathesis, against the bus's own
OpenAPI document (``interface_specs/tbs-1.0/openapi.yaml``) and the real server on loopback.

With a valid bearer token every generated request (headers, path, query, body) must get an
answer that is not a server error and is in the TBS format: JSON, ``X-TB-Spec-Version``, and
for errors ``{code, message}`` with a rule id. Without credentials every operation answers 401
under TBS-SEC-001, whatever else the request holds. Nothing a fuzzed request sends is stored
unless it is a valid envelope of the authenticated partner.

The run is bounded for ``make test`` (5 examples per operation, derandomised, the
authenticated push left out); ``make fuzz`` sets ``TONGBAN_FUZZ_EXAMPLES=500`` and
``TONGBAN_FUZZ_RANDOM=1`` and fuzzes every operation. A crash found becomes a kind in
``test_rest_kinds.py`` (the 405 of an unrouted method before authentication was one: routing
answers it in the TBS format with TBS-REST-008).
"""
from __future__ import annotations

import json
import os

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from tongban.specs import spec_dir

from security_support import TOKEN, Bus
from security_support import bus, province  # noqa: F401 - pytest fixtures

LONG_RUN = "TONGBAN_FUZZ_EXAMPLES" in os.environ
EXAMPLES = int(os.environ.get("TONGBAN_FUZZ_EXAMPLES", "5"))
schema = schemathesis.openapi.from_path(spec_dir("TBS-1.0") / "openapi.yaml")
# Generating whole envelopes from the JSON Schemas takes half a minute per run: the bounded run
# of `make test` fuzzes the authenticated push only in `make fuzz` (the REST kinds cover it).
authenticated = schema if LONG_RUN else schema.exclude(method="POST")

FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=not os.environ.get("TONGBAN_FUZZ_RANDOM"),
                suppress_health_check=list(HealthCheck), database=None)


def _header(response, name: str) -> str:
    values = response.headers.get(name) or [""]
    return values[0] if isinstance(values, list) else values


def _tbs_answer(response) -> dict:
    assert response.status_code < 500, response.text[:300]
    assert "Traceback" not in response.text
    assert _header(response, "x-tb-spec-version") == "TBS-1.0", response.headers
    assert _header(response, "content-type").startswith("application/json"), response.text[:200]
    body = json.loads(response.content)
    if response.status_code >= 400:
        assert {"code", "message"} <= set(body) and body.get("ruleId", "").startswith("TBS-"), body
    return body


@authenticated.parametrize()
@FUZZ
def test_fuzzed_requests_with_valid_credentials_get_tbs_answers(case, bus: Bus):
    case.headers = {**(case.headers or {}), "Authorization": f"Bearer {TOKEN['LW']}"}
    before = bus.snapshot()
    response = case.call(base_url=bus.rest.url, timeout=30)
    case.validate_response(response, checks=[not_a_server_error])
    body = _tbs_answer(response)
    if not (response.status_code == 200 and case.method.upper() == "POST" and body.get("counts", {}).get("stored")):
        assert bus.snapshot() == before, "a refused request stored something"


@schema.parametrize()
@FUZZ
def test_fuzzed_requests_without_credentials_get_401(case, bus: Bus):
    headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
    case.headers = headers
    before = bus.snapshot()
    response = case.call(base_url=bus.rest.url, timeout=30, headers=headers)
    if response.status_code in (404, 405) and response.json().get("ruleId") == "TBS-REST-008":
        return  # a path or method outside every route (routing answers first): no operation is reached
    body = _tbs_answer(response)
    assert response.status_code == 401 and body["ruleId"] == "TBS-SEC-001", body
    assert bus.snapshot() == before
