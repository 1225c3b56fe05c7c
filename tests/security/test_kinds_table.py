"""The kinds table (kinds_table.py) is read from the case tables themselves: one row per kind of
each binding, every acknowledged or faulted kind with its rule id, and at least 100 bad-input
kinds across the four bindings (REST, SOAP, file drop, MQTT)."""
from __future__ import annotations

from collections import Counter

import kinds_table
import test_filedrop_kinds
import test_mqtt_kinds
import test_rest_kinds
import test_soap_kinds


def test_one_row_per_kind_of_each_binding_and_at_least_100_over_the_four_bindings():
    rows = kinds_table.rows()
    per_binding = Counter(r["binding"] for r in rows)
    tables = {"REST": test_rest_kinds.KINDS, "SOAP": test_soap_kinds.KINDS, "FILE": test_filedrop_kinds.KINDS,
              "MQTT": test_mqtt_kinds.KINDS}
    for binding, kinds in tables.items():
        assert per_binding[binding] == len(kinds) == len({k.id for k in kinds}), binding
        assert [r["kind"] for r in rows if r["binding"] == binding] == [k.id for k in kinds]
    assert sum(per_binding[b] for b in tables) >= 100
    for r in rows:
        assert r["rule"].startswith("TBS-") or r["answer"].startswith(("dropped", "ignored")), r
    table = kinds_table.markdown(rows).splitlines()
    assert sum(line.startswith(f"| {r['kind']} | {r['binding']} |") for r in rows for line in table) == len(rows)
    assert table[-1] == f"| all | {len(rows)} |"
