"""``tongban validate``: exit codes, JSON output shapes, directories, bare records, bindings."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from tbs_examples import ANNEX_B, COUNTY, DEMO_KEY, DEMO_KEY_ID, changed, load_example
from tongban.model.canonical import canonical_bytes
from tongban.validators.cli import validate_command


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(validate_command, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def write(path: Path, value) -> Path:
    path.write_text(json.dumps(value, ensure_ascii=False), encoding="utf-8")
    return path


def c5(tmp_path: Path) -> Path:
    def edit(env):
        env["records"][0]["applicant"]["idNo"] = "110105194912310021"
    return write(tmp_path / "c5.json", changed("B.2", edit))


def test_valid_envelope_exits_0_with_one_report_object() -> None:
    code, out, _ = run("--format", "json", str(ANNEX_B / "B.1.json"))
    assert code == 0
    report = json.loads(out)  # exactly one JSON object
    assert report["result"] == "SUCCESS" and report["items"] == []
    assert report["specVersion"] == "TBS-1.0" and report["validator"]["name"] == "tongban"


def test_invalid_envelope_exits_1_and_reports_record_findings_at_envelope_locations(tmp_path: Path) -> None:
    code, out, _ = run("--format", "json", str(c5(tmp_path)))
    assert code == 1
    report = json.loads(out)
    assert report["result"] == "FAILURE" and report["counters"]["errors"] == 1
    assert report["items"][0]["ruleId"] == "TBS-CODE-017"
    assert report["items"][0]["location"] == "/records/0/applicant/idNo"
    assert report["items"][0]["value"] == "110105********0021"


def test_text_format_names_rule_and_location(tmp_path: Path) -> None:
    code, out, _ = run(str(c5(tmp_path)))
    assert code == 1 and "TBS-CODE-017" in out and "/records/0/applicant/idNo" in out and "FAILURE" in out


def test_several_inputs_give_json_lines(tmp_path: Path) -> None:
    code, out, _ = run("--format", "json", str(ANNEX_B / "B.1.json"), str(c5(tmp_path)))
    assert code == 1
    lines = [json.loads(line) for line in out.splitlines()]
    assert [Path(line["path"]).name for line in lines] == ["B.1.json", "c5.json"]
    assert [line["report"]["result"] for line in lines] == ["SUCCESS", "FAILURE"]


def test_directory_validates_every_file_and_batches_through_their_manifest(tmp_path: Path) -> None:
    drop = tmp_path / "case"
    drop.mkdir()
    for name in ["B.2.json", "B.3.json", "LW-case-20261102-01.manifest.json", "LW-case-20261102-01.jsonl"]:
        shutil.copy(ANNEX_B / name, drop / name)
    code, out, err = run("--format", "json", str(drop))
    assert code == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    assert sorted(Path(line["path"]).name for line in lines) == \
        ["B.2.json", "B.3.json", "LW-case-20261102-01.manifest.json"]
    assert all(line["report"]["result"] == "SUCCESS" for line in lines)


def test_file_drop_batch_with_a_tampered_data_file(tmp_path: Path) -> None:
    shutil.copy(ANNEX_B / "LW-case-20261102-01.manifest.json", tmp_path)
    data = (ANNEX_B / "LW-case-20261102-01.jsonl").read_bytes().replace(b"\xe5\xbc\xa0\xe4\xb8\x89", b"ZS")
    (tmp_path / "LW-case-20261102-01.jsonl").write_bytes(data)
    code, out, _ = run("--format", "json", str(tmp_path / "LW-case-20261102-01.manifest.json"))
    assert code == 1
    assert any(i["ruleId"].startswith("TBS-FILE-") for i in json.loads(out)["items"])


def test_file_drop_signature_checked_with_key_file(tmp_path: Path) -> None:
    keys = write(tmp_path / "keys.json", [{"sender": COUNTY, "keyId": DEMO_KEY_ID, "key": DEMO_KEY.decode()}])
    manifest = load_example("B.8")
    manifest["sentAt"] = "2026-11-02T10:06:01+08:00"  # breaks the signature
    write(tmp_path / "LW-case-20261102-01.manifest.json", manifest)
    shutil.copy(ANNEX_B / "LW-case-20261102-01.jsonl", tmp_path)
    code, out, _ = run("--format", "json", "--key-file", str(keys), str(tmp_path / "LW-case-20261102-01.manifest.json"))
    assert code == 1
    assert [(i["ruleId"], i["location"]) for i in json.loads(out)["items"]] == \
        [("TBS-ENV-028", "/integrity/signature/value")]


def test_key_file_verifies_b1(tmp_path: Path) -> None:
    keys = write(tmp_path / "keys.json", [{"sender": COUNTY, "keyId": DEMO_KEY_ID, "keyHex": DEMO_KEY.hex()}])
    assert run("--key-file", str(keys), str(ANNEX_B / "B.1.json"))[0] == 0
    tampered = load_example("B.1")
    tampered["receiver"] = "TB:province:440000:GDZWFW"
    code, out, _ = run("--format", "json", "--key-file", str(keys), str(write(tmp_path / "t.json", tampered)))
    assert code == 1 and json.loads(out)["items"][0]["ruleId"] == "TBS-ENV-028"


def test_dataset_wraps_a_jsonl_of_bare_records(tmp_path: Path) -> None:
    records = load_example("B.2")["records"]
    bad = json.loads(json.dumps(records[1]))
    bad["agent"]["idNo"] = "340524198001010010"
    lines = tmp_path / "cases.jsonl"
    lines.write_bytes(b"".join(canonical_bytes(r) + b"\n" for r in [records[0], bad]))
    code, out, _ = run("--format", "json", "--dataset", "case", str(lines))
    assert code == 1
    assert [(i["ruleId"], i["location"]) for i in json.loads(out)["items"]] == \
        [("TBS-CODE-017", "/records/1/agent/idNo")]
    good = tmp_path / "good.json"
    write(good, records[0])
    assert run("--dataset", "case", str(good))[0] == 0


def test_jsonl_needs_a_dataset(tmp_path: Path) -> None:
    (tmp_path / "x.jsonl").write_text("{}\n")
    assert run(str(tmp_path / "x.jsonl"))[0] == 2


def test_allowlist_file_replaces_the_reference_allowlist(tmp_path: Path) -> None:
    def edit(env):
        env["records"][1]["applicant"]["idNo"] = "91350211M0000XUF46"
    c9 = write(tmp_path / "c9.json", changed("B.2", edit))
    code, out, _ = run("--format", "json", str(c9))
    assert code == 0 and json.loads(out)["items"][0]["ruleId"] == "TBS-CODE-015"
    (tmp_path / "allow.txt").write_text("# empty allowlist\n")
    code, out, _ = run("--format", "json", "--allowlist", str(tmp_path / "allow.txt"), str(c9))
    assert code == 1 and json.loads(out)["items"][0]["ruleId"] == "TBS-CODE-014"


def test_soap_push_batch_is_mapped_and_validated(tmp_path: Path) -> None:
    mapping = pytest.importorskip("tongban.connectors.soap.mapping")
    xml = tmp_path / "push.xml"
    xml.write_bytes(mapping.envelope_to_push_batch(load_example("B.3")))
    code, out, _ = run("--format", "json", str(xml))
    assert code == 0, out
    (tmp_path / "bad.xml").write_bytes(b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>')
    code, out, _ = run("--format", "json", str(tmp_path / "bad.xml"))
    assert code == 1 and json.loads(out)["result"] == "FAILURE"


def test_unreadable_path_exits_2(tmp_path: Path) -> None:
    code, _, err = run(str(tmp_path / "missing.json"))
    assert code == 2 and "missing.json" in err


def test_unknown_spec_is_a_usage_error() -> None:
    assert run("--spec", "TBS-9.9", str(ANNEX_B / "B.1.json"))[0] == 2


def test_unparseable_file_is_an_error_not_a_crash(tmp_path: Path) -> None:
    (tmp_path / "gbk.json").write_bytes("{\"a\": \"张三\"}".encode("gbk"))
    code, out, _ = run("--format", "json", str(tmp_path / "gbk.json"))
    assert code == 1 and json.loads(out)["items"][0]["ruleId"] == "TBS-ENV-001"


@pytest.mark.parametrize("name", ["B.1", "B.2", "B.3", "B.4", "B.5"])
def test_every_worked_example_exits_0(name: str) -> None:
    code, out, _ = run("--format", "json", str(ANNEX_B / f"{name}.json"))
    assert code == 0 and json.loads(out)["result"] == "SUCCESS"


def _annex_c_rows():
    from test_annex_c import ROWS

    return sorted(ROWS)


@pytest.mark.parametrize("row", _annex_c_rows())
def test_every_stateless_annex_c_row_through_the_cli(row: str, tmp_path: Path) -> None:
    """Issue acceptance: exactly the row's findings; exit 1 for ERROR rows, 0 for C.9 (INFO)."""
    from test_annex_c import ROWS

    base, edit, expected = ROWS[row]
    path = tmp_path / "envelope.json"
    # raw JSON text: 5.0 must stay a float on the wire (C.20)
    path.write_bytes(json.dumps(changed(base, edit), ensure_ascii=False).encode("utf-8"))
    code, out, _ = run("--format", "json", str(path))
    report = json.loads(out)
    assert sorted((i["severity"], i["ruleId"], i["location"]) for i in report["items"]) == sorted(expected)
    assert code == (1 if any(s == "ERROR" for s, _, _ in expected) else 0)


def test_a_forged_manifest_signature_without_a_key_warns_that_it_was_not_checked(tmp_path: Path) -> None:
    manifest = load_example("B.8")
    manifest["integrity"]["signature"]["value"] = "AAAA" + manifest["integrity"]["signature"]["value"][4:]
    write(tmp_path / "LW-case-20261102-01.manifest.json", manifest)
    shutil.copy(ANNEX_B / "LW-case-20261102-01.jsonl", tmp_path)
    code, out, err = run(str(tmp_path / "LW-case-20261102-01.manifest.json"))
    assert code == 0 and "SUCCESS" in out            # stateless: TBS-ENV-028 needs the key
    assert "NOT checked" in err and "--key-file" in err and DEMO_KEY_ID in err
    keys = write(tmp_path / "keys.json", [{"sender": COUNTY, "keyId": DEMO_KEY_ID, "key": DEMO_KEY.decode()}])
    code, _, err = run("--key-file", str(keys), str(tmp_path / "LW-case-20261102-01.manifest.json"))
    assert code == 1 and "NOT checked" not in err


@pytest.mark.parametrize("example, dataset", [("B.2", "case"), ("B.3", "case-event"), ("B.4", "result"),
                                              ("B.5", "evaluation")])
def test_a_bare_record_without_dataset_gets_a_hint_naming_the_dataset(tmp_path: Path, example: str,
                                                                      dataset: str) -> None:
    record = write(tmp_path / "record.json", load_example(example)["records"][0])
    code, _, err = run(str(record))
    assert code == 1 and f"--dataset {dataset} " in err
    code, _, err = run("--dataset", dataset, str(record))
    assert code == 0 and "hint" not in err
