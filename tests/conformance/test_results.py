"""Result semantics of TBS-CONF-002/-003 (Inferno): roll-up priority and the role verdict."""
from __future__ import annotations

import pytest

from tongban.conformance.results import Result, Verdict, roll_up, role_verdict

R = Result


@pytest.mark.parametrize("results, expected", [
    ([R.PASS, R.FAIL, R.SKIP], R.FAIL),
    ([R.PASS, R.SKIP, R.OMIT], R.SKIP),
    ([R.PASS, R.OMIT], R.PASS),
    ([R.OMIT], R.OMIT),
    ([R.FAIL, R.ERROR], R.ERROR),
    ([], R.OMIT),
])
def test_roll_up_priority_is_error_fail_skip_pass_omit(results, expected):
    assert roll_up(results) is expected


def test_a_role_is_conformant_only_when_every_applicable_shall_test_passes():
    assert role_verdict([R.PASS, R.PASS, R.OMIT]) is Verdict.CONFORMANT
    assert role_verdict([R.PASS, R.SKIP]) is Verdict.NOT_CONFORMANT        # SKIP blocks
    assert role_verdict([R.PASS, R.ERROR]) is Verdict.NOT_CONFORMANT
    assert role_verdict([R.OMIT, R.OMIT]) is Verdict.NOT_CONFORMANT        # nothing was verified
    assert role_verdict([]) is Verdict.NOT_CONFORMANT


# TBS-1.0 §20.2–§20.7, copied by hand from the standard's test tables: id → level
STANDARD_LEVELS = {
    "COM-01": "SHALL", "COM-02": "SHALL", "COM-03": "SHALL", "COM-04": "SHALL", "COM-05": "SHALL",
    "COM-06": "SHOULD", "COM-07": "SHALL",
    "CP-01": "SHALL", "CP-02": "SHALL", "CP-03": "SHALL", "CP-04": "SHALL", "CP-05": "SHALL", "CP-06": "SHOULD",
    "CR-01": "SHALL", "CR-02": "SHALL", "CR-03": "SHALL", "CR-04": "SHALL", "CR-05": "SHALL", "CR-06": "SHALL",
    "CR-07": "SHOULD",
    "RP-01": "SHALL", "RP-02": "SHALL", "RP-03": "SHALL", "RP-04": "SHALL",
    "ER-01": "SHALL", "ER-02": "SHALL", "ER-03": "SHALL", "ER-04": "SHALL", "ER-05": "SHOULD",
    "CC-01": "SHALL", "CC-02": "SHALL", "CC-03": "SHALL", "CC-04": "SHALL", "CC-05": "SHALL", "CC-06": "SHALL",
    "CC-07": "SHALL", "CC-08": "SHOULD",
}
# a few rows' requirement columns, read from the same tables
STANDARD_REQUIREMENTS = {
    "COM-01": {"TBS-SEC-001", "TBS-SEC-002"},
    "COM-05": {"TBS-SYNC-001", "TBS-ENV-033"},
    "CP-05": {"TBS-SEC-003", "TBS-SYNC-009"},
    "CR-06": {"TBS-SEC-003"},
    "CC-05": {"TBS-SEC-005", "TBS-SEC-006", "TBS-ENV-027", "TBS-ENV-028"},
}


def test_the_catalogue_is_the_standards_table():
    import tongban.conformance as kit

    assert list(kit.TEST_IDS) == list(STANDARD_LEVELS)
    by_id = {cls.test_id: cls() for cls in kit.CATALOGUE}
    assert {tid: t.level.value for tid, t in by_id.items()} == STANDARD_LEVELS
    for tid, requirements in STANDARD_REQUIREMENTS.items():
        assert set(by_id[tid].requirement_ids) == requirements, tid


def test_nothing_evidenced_and_no_failure_is_a_skip_not_a_pass():
    from tongban.conformance.results import KitFinding, TestResult

    failure = KitFinding("TBS-SYNC-010", "a tombstone came back to life", "墓碑被复活")
    shown = [{"note": "0 REVOKED version(s) stored"}]
    skipped = TestResult.judge_evidenced([], shown, evidenced=False, missing="no REVOKED tombstone")
    assert (skipped.result, skipped.reason) == (R.SKIP, "no REVOKED tombstone")
    assert skipped.evidence == shown + [{"note": "no REVOKED tombstone"}]
    assert TestResult.judge_evidenced([], shown, evidenced=True, missing="-").result is R.PASS
    # a failure is a failure whether or not the path was shown
    assert TestResult.judge_evidenced([failure], shown, evidenced=False, missing="-").result is R.FAIL


def test_each_binding_declares_once_how_the_suite_collects_it():
    """§20.2: REST and SOAP providers are read through their feeds, FILE and MQTT push; a test
    with a run per collection gets the one its binding declares."""
    from types import SimpleNamespace

    from tongban.conformance.common import Com03StatelessValid
    from tongban.conformance.session import Session
    from tongban.conformance.testkit import COLLECTED, Collected

    assert COLLECTED == {"REST": Collected.PULLED, "SOAP": Collected.PULLED,
                         "FILE": Collected.PUSHED, "MQTT": Collected.PUSHED}

    class Spy(Com03StatelessValid):
        def pulled(self, session):
            return "pulled"

        def pushed(self, session):
            return "pushed"

    for binding, expected in (("REST", "pulled"), ("SOAP", "pulled"), ("FILE", "pushed"), ("MQTT", "pushed")):
        session = SimpleNamespace(config=SimpleNamespace(binding=binding))
        session.collected = Session.collected.fget(session)
        assert Spy().run(session) == expected, binding
