"""The five TBS-1.0 datasets and their business keys (§13.1)."""
from __future__ import annotations

from enum import Enum
from typing import Any, Mapping


class Dataset(str, Enum):
    CATALOG = "catalog"
    CASE = "case"
    CASE_EVENT = "case-event"
    RESULT = "result"
    EVALUATION = "evaluation"

    @property
    def key_members(self) -> tuple[str, ...]:
        return _KEYS[self]

    @property
    def versioned(self) -> bool:
        """catalog and case carry a ``version``; the others are immutable (§13.1)."""
        return self in (Dataset.CATALOG, Dataset.CASE)


_KEYS: dict[Dataset, tuple[str, ...]] = {
    Dataset.CATALOG: ("implCode",),
    Dataset.CASE: ("caseNo",),
    Dataset.CASE_EVENT: ("caseNo", "seq"),
    Dataset.RESULT: ("caseNo", "certNo"),
    Dataset.EVALUATION: ("caseNo", "assessNo"),
}

DATASETS: tuple[str, ...] = tuple(d.value for d in Dataset)


def business_key(dataset: Dataset | str, record: Mapping[str, Any]) -> dict[str, Any]:
    """The record's business-key members (for versioned datasets, without ``version``)."""
    ds = Dataset(dataset)
    return {m: record[m] for m in ds.key_members if m in record}


# Annex A.15: what each role sends (providers) or accepts (the consumer).
ROLE_SENDS: dict[str, tuple[str, ...]] = {
    "CATALOG_PROVIDER": ("catalog",),
    "CASE_REPORTER": ("case", "case-event"),
    "RESULT_PUBLISHER": ("result",),
    "EVALUATION_REPORTER": ("evaluation",),
}
ROLE_ACCEPTS: dict[str, tuple[str, ...]] = {"CATALOG_CONSUMER": ("catalog",)}
ROLE_DATASETS: dict[str, tuple[str, ...]] = {**ROLE_SENDS, **ROLE_ACCEPTS}
SENDING_ROLE: dict[str, str] = {ds: role for role, datasets in ROLE_SENDS.items() for ds in datasets}
"""dataset → the provider role that sends it (what TBS-SEC-004 and TBS-CONF-008 check)."""
