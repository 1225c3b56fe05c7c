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


def test_the_package_exports_resolve_and_the_catalogue_is_complete():
    import tongban.conformance as kit

    for name in kit.__all__:
        assert getattr(kit, name) is not None
    expected = ([f"COM-0{n}" for n in range(1, 8)] + [f"CP-0{n}" for n in range(1, 7)]
                + [f"CR-0{n}" for n in range(1, 8)] + [f"RP-0{n}" for n in range(1, 5)]
                + [f"ER-0{n}" for n in range(1, 6)] + [f"CC-0{n}" for n in range(1, 9)])
    assert list(kit.TEST_IDS) == expected
    for cls in kit.CATALOGUE:
        test = cls()
        assert test.description and test.roles and test.bindings
        assert test.requirement_ids or test.binding_requirements
