"""Delta certification plans against the worked example of the revision document (§4)."""
from __future__ import annotations

from tongban.conformance.delta import delta_plan, delta_table


def test_county_case_reporter_on_rest_reruns_what_the_document_lists() -> None:
    """§4: "a county CASE_REPORTER certified on REST under TBS-1.0 reruns COM-02, COM-03, COM-04,
    COM-07, CR-01, CR-03 and CR-07 (and COM-08 …); COM-01, COM-05, COM-06, CR-02, CR-04, CR-05 and
    CR-06 carry over"."""
    plan = delta_plan("CASE_REPORTER", "rest", certificate_id="c-1")
    assert sorted(plan.rerun) == ["COM-02", "COM-03", "COM-04", "COM-07", "CR-01", "CR-03", "CR-07"]
    assert plan.new == ["COM-08"]
    assert sorted(plan.carry_over) == ["COM-01", "COM-05", "COM-06", "CR-02", "CR-04", "CR-05", "CR-06"]
    assert plan.based_on == "c-1"


def test_binding_rows_decide_com_04_and_cc_07() -> None:
    assert "COM-04" in delta_plan("CASE_REPORTER", "FILE").carry_over
    assert "COM-04" in delta_plan("CASE_REPORTER", "MQTT").rerun
    assert "CC-07" in delta_plan("CATALOG_CONSUMER", "MQTT").rerun
    assert "CC-07" in delta_plan("CATALOG_CONSUMER", "SOAP").carry_over
    assert "CC-07" not in delta_plan("CATALOG_CONSUMER", "REST").rerun + delta_plan("CATALOG_CONSUMER", "REST").carry_over
    # COM-02 does not apply on FILE: nothing to rerun
    assert "COM-02" not in delta_plan("CASE_REPORTER", "FILE").rerun


def test_a_not_conformant_role_is_certified_in_full() -> None:
    plan = delta_plan("RESULT_PUBLISHER", "REST", verdict="NOT_CONFORMANT")
    assert plan.carry_over == [] and plan.based_on is None
    assert sorted(plan.rerun) == ["COM-01", "COM-02", "COM-03", "COM-04", "COM-05", "COM-06", "COM-07",
                                  "RP-01", "RP-02", "RP-03", "RP-04"]


def test_table_4_1_has_a_row_for_every_test_of_the_catalogue() -> None:
    from tongban.conformance.suite import TEST_IDS

    table = delta_table()
    assert {row["test"] for row in table["tests"]} == set(TEST_IDS) | {"COM-08"}
    assert {row["action"] for row in table["tests"]} == {"rerun", "carry over", "new"}
