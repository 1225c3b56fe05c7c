"""The requirement ids a validator may emit, their verdicts (§4.3) and finding construction.

The verdict of every id lives in ``rule_catalog/<spec>.json``; no code and no configuration
chooses a severity (§4.3). Values are rendered per TBS-RPT-006 and masked per TBS-SEC-012.
"""
from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from tongban.model.codes import mask_id_number
from tongban.specs import folder_name
from tongban.validators.report import Finding, Severity, render_value

CATALOG_DIR = Path(__file__).resolve().parent / "rule_catalog"


class _Missing:
    """Marks an absent value: TBS-RPT-006 says ``value`` is then omitted."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


@cache
def rule_catalog(spec: str = "TBS-1.0") -> dict[str, dict[str, str]]:
    path = CATALOG_DIR / f"{folder_name(spec)}.json"
    if not path.is_file():
        raise LookupError(f"no rule catalog for {spec!r}")
    return json.loads(path.read_text(encoding="utf-8"))["requirements"]


def mask_parties(value: Any) -> Any:
    """A copy of ``value`` with the ``idNo`` of every non-ORG party masked (TBS-SEC-012)."""
    if isinstance(value, dict):
        out = {k: mask_parties(v) for k, v in value.items()}
        if isinstance(out.get("idNo"), str) and value.get("kind") != "ORG":
            out["idNo"] = mask_id_number(out["idNo"])
        return out
    if isinstance(value, list):
        return [mask_parties(v) for v in value]
    return value


def render(value: Any, *, mask: bool = False) -> str | None:
    """TBS-RPT-006: the offending value as a string, truncated to 200 characters, masked."""
    if value is MISSING:
        return None
    if isinstance(value, str):
        return render_value(mask_id_number(value) if mask else value)
    if isinstance(value, (dict, list)):
        value = mask_parties(value)
    try:
        return render_value(value)
    except (TypeError, ValueError):  # e.g. NaN handed in by a caller that did not parse strictly
        return repr(value)[:200]


def make_finding(rule_id: str, location: str, en: str = "", zh: str = "", value: Any = MISSING, *,
                 mask: bool = False, spec: str = "TBS-1.0") -> Finding:
    """A finding with the catalogued severity and a bilingual message (title + detail)."""
    entry = rule_catalog(spec)[rule_id]
    return Finding(
        severity=Severity(entry["severity"]),
        rule_id=rule_id,
        location=location,
        message_zh=f"{entry['zh']}：{zh}" if zh else entry["zh"],
        message_en=f"{entry['en']}: {en}" if en else entry["en"],
        value=render(value, mask=mask),
    )


def pointer_token(name: str) -> str:
    """RFC 6901 escaping of one member name."""
    return name.replace("~", "~0").replace("/", "~1")
