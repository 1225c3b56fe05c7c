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
