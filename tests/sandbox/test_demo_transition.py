"""``tongban demo --transition`` end to end: a province in transition on real loopback servers."""
from __future__ import annotations

import re

from click.testing import CliRunner

from tongban.cli import main


def test_the_transition_demo_shows_negotiation_conversion_impact_and_delta_plans(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("TONGBAN_HOME", str(tmp_path / ".tongban"))
    result = CliRunner().invoke(main, ["demo", "--transition", "--cities", "2", "--counties", "2"])
    assert result.exit_code == 0, result.output
    text = result.output
    read_in = dict(re.findall(r"supports (\S+)\s+read in (TBS-1\.[01])", text))
    assert read_in == {"TBS-1.0+TBS-1.1": "TBS-1.1", "TBS-1.0": "TBS-1.0"}
    published = re.findall(r"(TBS-1\.[01]): offered (\d+), accepted (\d+), rejected 0, withheld 0", text)
    assert {v for v, _, _ in published} == {"TBS-1.0", "TBS-1.1"}
    assert all(offered == accepted and offered != "0" for _, offered, accepted in published)
    assert "member-now-mandatory catalog.onSiteVisits" in text
    assert "new COM-08" in text
    # one real delta certification: a TBS-1.0 certificate first, then the TBS-1.1 session on it
    base = re.search(r"TBS-1\.0 session, \d+ tests, CONFORMANT → certificate (\S+)", text)
    assert base, text
    delta = re.search(r"TBS-1\.1 delta session basedOn (\S+): run (\d+) \((.*?)\); carried over (\d+)", text)
    assert delta and delta.group(1) == base.group(1)
    assert "COM-08" in delta.group(3).split(", ") and int(delta.group(4)) > 0
    assert re.findall(r"^\s+(\w+)\s+(CONFORMANT|NOT_CONFORMANT) \((delta|full)\)$", text, re.M) == [
        (role, "CONFORMANT", "delta") for role in ("CASE_REPORTER", "CATALOG_PROVIDER", "EVALUATION_REPORTER",
                                                  "RESULT_PUBLISHER")]
    import json

    cert = json.loads((tmp_path / ".tongban/transition/conformance/tbs-1.1/certificate.json").read_text("utf-8"))
    assert cert["specVersion"] == "TBS-1.1" and cert["basedOn"] == base.group(1)
