"""partners.yaml: loaded and validated; bad files reported with file, line and field."""
from __future__ import annotations

from pathlib import Path

import pytest

from tongban.registry import Role, RegistryError, load_registry, parse_registry

EXAMPLE = Path(__file__).resolve().parents[1] / "tongban" / "templates" / "partners.example.yaml"

GOOD = """bus:
  system_id: TB:province:440000:TONGBAN
partners:
  - id: TB:county:440103:LWZWFW
    parent: TB:province:440000:TONGBAN
    transport: rest
    endpoint: https://127.0.0.1:8443
    roles: [CASE_REPORTER, CATALOG_PROVIDER]
"""


def test_documented_example_loads():
    reg = load_registry(EXAMPLE)
    assert reg.bus.system_id == "TB:province:440000:TONGBAN"
    assert {p.transport.value for p in reg.partners} == {"rest", "soap", "filedrop", "mqtt"}
    county = reg.get("TB:county:440103:LWZWFW")
    assert county.direct and county.system_region == "440103" and county.datasets == ("case", "case-event")
    assert [p.id for p in reg.with_role(Role.RESULT_PUBLISHER)] == ["TB:city:440100:GZZWFW", "TB:county:440104:YXZWFW"]


def test_credentials_resolve_from_environment(monkeypatch):
    reg = load_registry(EXAMPLE)
    monkeypatch.setenv("TONGBAN_TOKEN_GZZWFW", "s3cret")
    assert reg.get("GZZWFW").credentials.token() == "s3cret"


def _problems(text: str) -> list[str]:
    with pytest.raises(RegistryError) as info:
        parse_registry(text, name="partners.yaml")
    return [str(p) for p in info.value.problems]


@pytest.mark.parametrize("change, expected", [
    (("transport: rest", "transport: pigeon"), "partners.yaml:6: partners[0].transport: Input should be"),
    (("TB:county:440103:LWZWFW", "TB:county:440100:LWZWFW"), "partners.yaml:4: partners[0].id: not a TBS-1.0"),
    (("https://127.0.0.1:8443", "http://127.0.0.1:8443"), "partners.yaml:4: partners[0]: plain http:// needs"),
    (("roles: [CASE_REPORTER, CATALOG_PROVIDER]", "roles: [CASE_REPORTER]\n    credentials: {token: abc}"),
     "partners.yaml:9: partners[0].credentials.token: Extra inputs are not permitted"),
    (("parent: TB:province:440000:TONGBAN", "parent: TB:city:440300:SZZWFW"),
     "partners.yaml:5: partners[0].parent: unknown parent"),
    (("roles: [CASE_REPORTER, CATALOG_PROVIDER]", "roles: [CASE_REPORTER]\n    hold_timeout: P30D"),
     "partners.yaml:9: partners[0].hold_timeout: must lie between PT1M and P7D"),
])
def test_bad_entries_name_file_line_and_field(change, expected):
    problems = _problems(GOOD.replace(*change))
    assert any(p.startswith(expected) for p in problems), problems


def test_token_env_must_be_a_variable_name_not_a_secret():
    problems = _problems(GOOD + "    credentials: {token_env: 'Bearer abc123'}\n")
    assert any("partners[0].credentials.token_env" in p and "NAME of an environment variable" in p for p in problems)


def test_duplicate_ids_and_yaml_syntax_errors():
    dup = GOOD + GOOD.split("partners:\n")[1]
    assert any("partners.yaml:9: partners[1].id" in p and "duplicate" in p for p in _problems(dup))
    assert _problems("bus: [unclosed\n")[0].startswith("partners.yaml:2: not valid YAML")


def test_missing_file_is_reported(tmp_path):
    with pytest.raises(RegistryError, match="file not found"):
        load_registry(tmp_path / "nope.yaml")


@pytest.mark.parametrize("bus_line, partner_line, expected", [
    ("", "", "TBS-1.0"),                                        # a TBS-1.0 province
    ("  spec_versions: [TBS-1.0, TBS-1.1]\n", "", "TBS-1.1"),  # the bus speaks TBS-1.1: change 14 applies
    ("", "    spec_version: TBS-1.1\n", "TBS-1.1"),           # no bus list: a partner read in TBS-1.1
    ("  spec_versions: [TBS-1.0]\n", "    spec_versions: [TBS-1.0, TBS-1.1]\n", "TBS-1.0"),  # the bus's list decides
])
def test_overdue_rule_follows_the_versions_the_bus_speaks(tmp_path, bus_line, partner_line, expected):
    text = GOOD.replace("  system_id: TB:province:440000:TONGBAN\n",
                        "  system_id: TB:province:440000:TONGBAN\n" + bus_line)
    text = text.replace("    transport: rest\n", "    transport: rest\n" + partner_line)
    path = tmp_path / "partners.yaml"
    path.write_text(text, encoding="utf-8")
    assert load_registry(path).overdue_rule() == expected
