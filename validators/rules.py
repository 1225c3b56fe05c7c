"""The requirement ids a validator may emit, their verdicts (§4.3) and finding construction.

The verdict of every id lives in ``rule_catalog/<spec>.json``; no code and no configuration
chooses a severity (§4.3). Values are rendered per TBS-RPT-006 and masked per TBS-SEC-012.
"""
from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any, Callable

from tongban.model.codes import mask_id_number
from tongban.specs import folder_name, spec_dir
from tongban.validators.report import Finding, Severity, render_value

CATALOG_DIR = Path(__file__).resolve().parent / "rule_catalog"


class _Missing:
    """Marks an absent value: TBS-RPT-006 says ``value`` is then omitted."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


VERDICTS = ("ERROR", "WARNING", "INFO")


@cache
def rule_catalog(spec: str = "TBS-1.0") -> dict[str, dict[str, str]]:
    """The requirement ids a validator of ``spec`` may emit, with their verdicts.

    A revised version has no catalog file of its own: its catalog is the catalog of the version
    it revises, minus the withdrawn ids, plus the added ids that have a verdict, as its
    ``requirement-changes.json`` lists them (one source for the spec diff and the validator).
    """
    path = CATALOG_DIR / f"{folder_name(spec)}.json"
    if path.is_file():
        return json.loads(path.read_text(encoding="utf-8"))["requirements"]
    try:
        changes_path = spec_dir(spec) / "requirement-changes.json"
    except LookupError:
        changes_path = None
    if changes_path is None or not changes_path.is_file():
        raise LookupError(f"no rule catalog for {spec!r}")
    changes = json.loads(changes_path.read_text(encoding="utf-8"))
    catalog = dict(rule_catalog(changes["revises"]))
    for entry in changes.get("withdrawn", ()):
        catalog.pop(entry["id"], None)
    for entry in changes.get("added", ()):
        if entry["severity"] in VERDICTS:
            catalog[entry["id"]] = {"severity": entry["severity"], "scope": entry["scope"], "zh": entry["zh"],
                                    "en": entry["en"]}
    return catalog


def mask_id_number_2_2(value: str) -> str:
    """TBS-SEC-012 (a) as TBS-1.1 words it: keep the first 2 and last 2 characters (≤ 6: the last one)."""
    if len(value) <= 6:
        return "*" * max(len(value) - 1, 0) + value[-1:]
    return value[:2] + "*" * (len(value) - 4) + value[-2:]


def mask_name(value: str) -> str:
    """TBS-SEC-012 (b), TBS-1.1: keep the first character of a person's name, mask the rest."""
    return value[:1] + "*" * max(len(value) - 1, 0)


# TBS-1.1 TBS-SEC-012 (b): the members whose value is a person's name, by the last two tokens of
# a finding's location. A party's kind is not known at a finding (it may be the very member in
# error), so a party name is masked whatever the kind: an organisation's name loses detail in a
# report, a person's never shows (interface_specs/tbs-1.1/INTERPRETATIONS.md, change 22).
PERSON_NAME_MEMBERS: dict[str, frozenset[tuple[str, str]]] = {
    "TBS-1.1": frozenset({("applicant", "name"), ("agent", "name"), ("handler", "name")})}


# TBS-SEC-012 per version (the version whose rules the finding names); others mask as TBS-1.0.
ID_MASKS: dict[str, Callable[[str], str]] = {"TBS-1.0": mask_id_number, "TBS-1.1": mask_id_number_2_2}
# TBS-RPT-006 as TBS-1.1 changed it: no value for findings at these members (TBS-SEC-012 (c)).
VALUE_WITHHELD_MEMBERS: dict[str, tuple[str, ...]] = {"TBS-1.1": ("text", "opinion")}


def mask_parties(value: Any, mask_id: Callable[[str], str] = mask_id_number, *, names: bool = False) -> Any:
    """A copy of ``value`` with the ``idNo`` of every non-ORG party masked (TBS-SEC-012); with
    ``names`` (TBS-1.1, (b)) also the ``name`` of every non-ORG party and of every ``handler``."""
    if isinstance(value, dict):
        out = {k: mask_parties(v, mask_id, names=names) for k, v in value.items()}
        person = value.get("kind") != "ORG"
        if isinstance(out.get("idNo"), str) and person:
            out["idNo"] = mask_id(out["idNo"])
        if names and person and "kind" in value and isinstance(out.get("name"), str):
            out["name"] = mask_name(out["name"])
        if names and isinstance(out.get("handler"), dict) and isinstance(out["handler"].get("name"), str):
            out["handler"] = {**out["handler"], "name": mask_name(out["handler"]["name"])}
        return out
    if isinstance(value, list):
        return [mask_parties(v, mask_id, names=names) for v in value]
    return value


def render(value: Any, *, mask: bool = False, mask_id: Callable[[str], str] = mask_id_number,
           names: bool = False) -> str | None:
    """TBS-RPT-006: the offending value as a string, truncated to 200 characters, masked."""
    if value is MISSING:
        return None
    if isinstance(value, str):
        return render_value(mask_id(value) if mask else value)
    if isinstance(value, (dict, list)):
        value = mask_parties(value, mask_id, names=names)
    try:
        return render_value(value)
    except (TypeError, ValueError):  # e.g. NaN handed in by a caller that did not parse strictly
        return repr(value)[:200]


def make_finding(rule_id: str, location: str, en: str = "", zh: str = "", value: Any = MISSING, *,
                 mask: bool = False, spec: str = "TBS-1.0") -> Finding:
    """A finding with the catalogued severity and a bilingual message (title + detail)."""
    entry = rule_catalog(spec)[rule_id]
    withheld = VALUE_WITHHELD_MEMBERS.get(spec)
    if withheld and location.rpartition("/")[2] in withheld and location.startswith("/records/"):
        value = MISSING
    person_names = PERSON_NAME_MEMBERS.get(spec)
    if person_names and isinstance(value, str) and tuple(location.split("/")[-2:]) in person_names:
        value = mask_name(value)
    return Finding(
        severity=Severity(entry["severity"]),
        rule_id=rule_id,
        location=location,
        message_zh=f"{entry['zh']}：{zh}" if zh else entry["zh"],
        message_en=f"{entry['en']}: {en}" if en else entry["en"],
        value=render(value, mask=mask, mask_id=ID_MASKS.get(spec, mask_id_number), names=bool(person_names)),
    )


def pointer_token(name: str) -> str:
    """RFC 6901 escaping of one member name."""
    return name.replace("~", "~0").replace("/", "~1")
