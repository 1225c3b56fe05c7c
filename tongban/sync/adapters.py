"""Adapters: legacy dialects of a partner's feed mapped to canonical TBS records before
validation (TBS-1.0 §1: only the canonical form is validated).

Which dialect a partner speaks is data in its registry entry, not code: TBS-EVAL-007 makes the
mapping of GB/T 39046 A.8 satisfaction codes (1 = 非常满意) to the TBS direction
(5 = 非常满意) the adapter's duty, with ``satisfaction = 6 − c``.
"""
from __future__ import annotations

from typing import Any, Callable

from tongban.registry import PartnerConfig

Adapter = Callable[[str, list[Any]], list[Any]]


def gbt39046_satisfaction(dataset: str, records: list[Any]) -> list[Any]:
    """TBS-EVAL-007 / Annex A.8: ``satisfaction`` and ``dimensions`` from GB/T 39046 order."""
    if dataset != "evaluation":
        return records
    out = []
    for rec in records:
        if isinstance(rec, dict):
            rec = dict(rec)
            if _code(rec.get("satisfaction")):
                rec["satisfaction"] = 6 - rec["satisfaction"]
            dims = rec.get("dimensions")
            if isinstance(dims, dict):
                rec["dimensions"] = {k: 6 - v if _code(v) else v for k, v in dims.items()}
        out.append(rec)  # anything not mappable is left as it is for the validator to judge
    return out


def _code(value: Any) -> bool:
    return type(value) is int and 1 <= value <= 5


ADAPTERS: dict[str, Adapter] = {"gbt39046": gbt39046_satisfaction}


def adapt(partner: PartnerConfig, dataset: str, records: list[Any]) -> list[Any]:
    if partner.satisfaction_scale == "tbs":
        return records
    return ADAPTERS[partner.satisfaction_scale](dataset, records)
