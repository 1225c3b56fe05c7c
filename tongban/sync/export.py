"""Stored current records in canonical form (JCS), in business-key order.

What a data team diffs against a source: one JSON text per line, byte-identical to the
record's canonical form (TBS-ENV-012), so ``sha256`` of a line is the record's content hash.
"""
from __future__ import annotations

from typing import Iterator

from sqlalchemy import select

from tongban.store import schema as t
from tongban.store.store import Store

_QUERIES = {
    "catalog": (t.CatalogItemVersion, (t.CatalogItemVersion.impl_code,), t.CatalogItemVersion.is_current.is_(True)),
    "case": (t.CaseRecord, (t.CaseRecord.case_no,), None),
    "case-event": (t.CaseEventRecord, (t.CaseEventRecord.case_no, t.CaseEventRecord.seq), None),
    "result": (t.ResultRecord, (t.ResultRecord.case_no, t.ResultRecord.cert_no), None),
    "evaluation": (t.EvaluationRecord, (t.EvaluationRecord.case_no, t.EvaluationRecord.assess_no), None),
}


def export_current(store: Store, dataset: str, *, batch: int = 5000) -> Iterator[str]:
    table, order, current = _QUERIES[dataset]
    query = select(table.content).order_by(*order)
    if current is not None:
        query = query.where(current)
    with store.reading() as s:
        yield from s.execute(query.execution_options(yield_per=batch)).scalars()
