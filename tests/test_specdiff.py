"""``tongban spec diff tbs-1.0 tbs-1.1`` against a table written by hand from the revision document.

tests/data/tbs_1_1/expected_spec_diff.json is not produced by the code under test: its
'summary' is §1 of the document, its 'differences' the file differences each change's edits
imply, with their §0.2 classes.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tongban.cli import main
from tongban.specdiff import _pattern_change

EXPECTED = json.loads((Path(__file__).parent / "data" / "tbs_1_1" / "expected_spec_diff.json").read_text(encoding="utf-8"))
B, C = "breaking", "compatible"


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["spec", "diff", *args], catch_exceptions=False)
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def output() -> dict[str, Any]:
    code, text = run("tbs-1.0", "tbs-1.1", "--format", "json")
    assert code == 0
    return json.loads(text)


def _matches(row: dict[str, Any], item: dict[str, Any]) -> bool:
    return (row["what"] == item["what"] and row["location"] == item["location"]
            and (row["detail"] is None or row["detail"] == item["detail"]))


def test_every_hand_written_difference_is_found_in_the_spec_files_with_its_class(output: dict[str, Any]) -> None:
    files_items = [d for d in output["differences"] if d["foundIn"] == "spec files"]
    missing, wrong = [], []
    for row in EXPECTED["differences"]:
        hits = [d for d in files_items if _matches(row, d)]
        if len(hits) != 1:
            missing.append((row["change"], row["what"], row["location"], row["detail"], len(hits)))
        elif (hits[0]["producers"], hits[0]["consumers"]) != (row["producers"], row["consumers"]):
            wrong.append((row["change"], row["location"], hits[0]["producers"], hits[0]["consumers"]))
    assert missing == [] and wrong == []


def test_no_difference_in_the_spec_files_beyond_the_hand_written_table(output: dict[str, Any]) -> None:
    unexpected = [(d["what"], d["location"], d["detail"]) for d in output["differences"]
                  if d["foundIn"] == "spec files" and not any(_matches(r, d) for r in EXPECTED["differences"])]
    assert unexpected == []


def test_requirement_ids_per_change_are_those_of_the_summary(output: dict[str, Any]) -> None:
    kinds = {"requirement-added": "added", "requirement-changed": "changed", "requirement-withdrawn": "withdrawn"}
    for number, row in EXPECTED["summary"].items():
        found = {kind: sorted(d["location"] for d in output["differences"]
                              if d.get("change") == int(number) and d["what"] == what)
                 for what, kind in kinds.items()}
        assert found == {k: sorted(row[k]) for k in ("added", "changed", "withdrawn")}, f"change {number}"
        for d in output["differences"]:
            if d.get("change") == int(number):
                assert d["foundIn"] == "requirement text"


def test_each_change_gets_the_class_the_document_gives_it(output: dict[str, Any]) -> None:
    """The classes of a change's differences (file ones attributed by the hand table, text ones by
    their change number) combine to the class of §1: breaking when any part is breaking."""
    by_change: dict[int, list[dict[str, Any]]] = {int(n): [] for n in EXPECTED["summary"]}
    for d in output["differences"]:
        if d["foundIn"] == "requirement text":
            by_change[d["change"]].append(d)
        else:
            row = next(r for r in EXPECTED["differences"] if _matches(r, d))
            by_change[row["change"]].append(d)
    for number, items in by_change.items():
        summary = EXPECTED["summary"][str(number)]
        assert items, f"change {number} has no difference"
        got = tuple(B if any(d[side] == B for d in items) else C for side in ("producers", "consumers"))
        assert got == (summary["producers"], summary["consumers"]), f"change {number}"
        sources = {d["foundIn"] for d in items}
        visible = {"yes": {"spec files"}, "no": {"requirement text"}}.get(summary["schemaVisible"])
        if summary["schemaVisible"] == "yes":
            assert "spec files" in sources, f"change {number}"
        elif summary["schemaVisible"] == "no":
            assert sources == visible, f"change {number}"
        else:  # partly
            assert sources == {"spec files", "requirement text"} or number == 23, f"change {number}"


def test_exit_status_follows_the_side_asked() -> None:
    assert run("tbs-1.0", "tbs-1.1", "--for", "producer")[0] == 1
    assert run("tbs-1.0", "tbs-1.1", "--for", "consumer")[0] == 1
    assert run("tbs-1.0", "tbs-1.1")[0] == 0


def test_a_version_compared_with_itself_has_no_difference() -> None:
    code, text = run("tbs-1.0", "tbs-1.0", "--format", "json", "--for", "consumer")
    assert code == 0 and json.loads(text)["differences"] == []


def test_an_unknown_version_is_a_usage_error() -> None:
    code, text = run("tbs-1.0", "tbs-9.9")
    assert code == 2 and "unknown spec version" in text


def test_the_table_lists_every_difference(output: dict[str, Any]) -> None:
    code, text = run("tbs-1.0", "tbs-1.1")
    assert f"{len(output['differences'])} differences" in text
    assert "TBS-CODE-012" in text and "crossRegionScope" in text


@pytest.mark.parametrize(("old", "new", "expected"), [
    ("^[0-9A-Za-z]{1,16}$", "^[0-9]{3,6}$", "pattern-narrowed"),
    ("^[0-9]{3,6}$", "^[0-9A-Za-z]{1,16}$", "pattern-widened"),
    ("^[0-9]{3}$", "^[A-Z]{3}$", "pattern-changed"),
])
def test_pattern_changes_are_judged_by_what_they_accept(old: str, new: str, expected: str) -> None:
    assert _pattern_change(old, new)[0] == expected


def test_the_requirement_list_agrees_with_the_rule_lists_of_the_schemas() -> None:
    """The S3 rule lists (x-tbs-cross-field) of the two folders differ by exactly the S3 ids the
    requirement-change list adds and withdraws; its S2 ids are named by the TBS-1.1 schemas."""
    from tongban.specs import spec_dir

    def s3(version: str) -> set[str]:
        ids: set[str] = set()
        for path in (spec_dir(version) / "schemas").glob("*.schema.json"):
            ids |= set(json.loads(path.read_text(encoding="utf-8")).get("x-tbs-cross-field", ()))
        return ids

    changes = json.loads((spec_dir("TBS-1.1") / "requirement-changes.json").read_text(encoding="utf-8"))
    assert s3("TBS-1.1") - s3("TBS-1.0") == {r["id"] for r in changes["added"] if r["stage"] == "S3"}
    assert s3("TBS-1.0") - s3("TBS-1.1") == {r["id"] for r in changes["withdrawn"]}
    schemas_text = "".join(p.read_text(encoding="utf-8") for p in (spec_dir("TBS-1.1") / "schemas").glob("*.json"))
    for r in changes["added"]:
        if r["stage"] == "S2":
            assert f'"{r["id"]}"' in schemas_text, r["id"]
