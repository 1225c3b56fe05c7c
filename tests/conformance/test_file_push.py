"""A pushing SUT over the file-drop binding: the suite provisions the drop root, acknowledges
every batch as TBS-1.0 prescribes, withholds one acknowledgement (COM-05) and certifies."""
from __future__ import annotations

from tongban.conformance.results import Level, Result, Verdict

from conformance_support import run_file_push


def test_a_reference_county_pushing_over_file_is_conformant(county, documents, tmp_path):
    run, sut = run_file_push(county, tmp_path / "drop", documents)
    not_passed = {r.test_id: r.result.reason for r in run.runs
                  if r.test.level is Level.SHALL and r.result.result not in (Result.PASS, Result.OMIT)}
    assert not_passed == {}
    assert run.role_verdicts() == {role: Verdict.CONFORMANT for role in county.roles}
    results = {r.test_id: r.result.result for r in run.runs}
    assert results["COM-05"] is Result.PASS                    # the withheld batch was resent …
    assert len(sut.unacknowledged) == 1                        # … exactly once
    omitted = {t for t, r in results.items() if r is Result.OMIT}
    assert omitted == {"COM-02", "COM-07", "CP-02"}            # meta and changes feeds are REST/SOAP only
    assert not list((tmp_path / "drop" / "inbox").rglob("*.json"))  # every batch was processed
