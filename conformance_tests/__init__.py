"""Conformance test kit (TBS-1.0 §20) certifying newly joining systems per role and binding.

One small class per catalogue test (:mod:`.common`, :mod:`.catalog_provider`,
:mod:`.case_reporter`, :mod:`.result_publisher`, :mod:`.evaluation_reporter`,
:mod:`.catalog_consumer`), run by :func:`run_suite` against a :class:`Session`; the results,
report and certificate follow TBS-CONF-002 … -007 (:mod:`.results`, :mod:`.certificate`).
:func:`certify` is the one entry point of the CLI and the ``onboard_partner`` DAG;
:mod:`.admission` records certificates and answers TBS-CONF-008. :mod:`.defects` holds defective
sandbox systems for negative testing.

Names are imported lazily so that importing :mod:`tongban.conformance.admission` (``tongban
partners list``) does not load the whole suite.
"""
from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Certification": "certify", "certify": "certify", "CannotRun": "certify",
    "Session": "session", "SessionConfig": "session", "SUITE_VERSION": "session",
    "run_suite": "suite", "SuiteRun": "suite", "CATALOGUE": "suite", "TEST_IDS": "suite",
    "Result": "results", "TestResult": "results", "KitFinding": "results", "Level": "results",
    "Verdict": "results", "roll_up": "results",
    "ConformanceTest": "testkit",
    "ReferenceReceiver": "reference_receiver", "SenderProfile": "reference_receiver",
    "ack_differences": "reference_receiver",
    "build_report": "certificate", "build_certificate": "certificate", "write_outputs": "certificate",
    "verify_directory": "certificate",
    "DEFECTS": "defects", "Defect": "defects",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
