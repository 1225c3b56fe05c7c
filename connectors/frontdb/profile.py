"""Profiles as data: ``interface_specs/tbs-lp-1.0/<profile>.json`` lists each table's rank,
entity key, listed columns with their profile types, upper-cased columns and mapped code
columns; the code tables and the evaluation dialects are data too (TBS-LP-011, -100, -101,
§5). A new provincial dialect is a new data file, plus at most a named transform in
:mod:`tongban.connectors.frontdb.mapping`.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from tongban.specs import SPECS_ROOT

LP_DIR = SPECS_ROOT / "tbs-lp-1.0"
PROFILE_FILES = {"NATIONAL-EXCHANGE": "national-exchange.json", "EA-JC-STEP": "ea-jc-step.json"}
DIALECTS = ("HCP-NATIONAL", "HCP-ALT", "GB39046")


class ConfigurationError(ValueError):
    """TBS-LP-011: the bus reads nothing from the front database until it is corrected."""


@dataclass(frozen=True)
class TableSpec:
    name: str
    rank: int
    roles: tuple[str, ...]
    entity_key: str
    kind: str  # lookup | item_basic | item_child | case | case_linked | evaluation
    columns: dict[str, str]  # listed column -> profile type (VARCHAR(n), TEXT, INT, DATETIME, DATE)
    upper: frozenset[str]
    codes: dict[str, str]  # mapped code column -> code table name ("dialect:pf" for §5)

    def col(self, generic: str) -> str:
        """The table's own spelling of a sync column (``row_guid`` or ``ROW_GUID``)."""
        return generic.upper() if self.name.isupper() else generic


@dataclass(frozen=True)
class Profile:
    name: str
    version: str
    tables: dict[str, TableSpec]
    codes: dict[str, dict[str, Any]]
    event_table_rank: dict[str, int]
    ddl: dict[str, str]

    def tables_for(self, roles: frozenset[str] | set[str]) -> list[TableSpec]:
        """TBS-LP-011: only the tables that serve the partner's roles, in rank order."""
        return sorted((t for t in self.tables.values() if roles & set(t.roles)), key=lambda t: t.rank)

    def code(self, table: str, key: Any) -> Any:
        return self.codes[table].get(key)

    def ddl_text(self, dialect: str) -> str:
        """The normative DDL (§2.2, §4.1, Annex B) for ``mysql`` or ``postgresql``; other
        dialects (SQLite) use the MySQL text with the engine clauses removed."""
        name = self.ddl["postgresql" if dialect == "postgresql" else "mysql"]
        text = (LP_DIR / name).read_text(encoding="utf-8")
        if self.name != "NATIONAL-EXCHANGE":  # markers, manifests and receipts of §2.2
            text += "\n" + binding_ddl(dialect)
        return text


@lru_cache(maxsize=None)
def load_profile(name: str) -> Profile:
    if name not in PROFILE_FILES:
        raise ConfigurationError(f"unknown profile {name!r}: known profiles are {', '.join(PROFILE_FILES)}")
    data = json.loads((LP_DIR / PROFILE_FILES[name]).read_text(encoding="utf-8"))
    tables = {n: TableSpec(n, t["rank"], tuple(t["roles"]), t["entity_key"], t["kind"], dict(t["columns"]),
                           frozenset(t["upper"]), dict(t["codes"])) for n, t in data["tables"].items()}
    return Profile(data["profile"], data["version"], tables, data["codes"], data["event_table_rank"], data["ddl"])


@lru_cache(maxsize=None)
def dialect_tables() -> dict[str, Any]:
    return json.loads((LP_DIR / "evaluation-dialects.json").read_text(encoding="utf-8"))


@lru_cache(maxsize=None)
def binding_tables() -> dict[str, dict[str, str]]:
    return json.loads((LP_DIR / "frontdb-binding.json").read_text(encoding="utf-8"))


def binding_ddl(dialect: str) -> str:
    """``tb_batch``, ``tb_batch_row``, ``tb_receipt`` and ``dn_task_directory`` from the
    NATIONAL-EXCHANGE DDL, for front databases of other profiles."""
    ne = load_profile("NATIONAL-EXCHANGE")
    text = (LP_DIR / ne.ddl["postgresql" if dialect == "postgresql" else "mysql"]).read_text(encoding="utf-8")
    keep = []
    for stmt in split_sql(text):
        if any(f" {t} " in stmt or f" {t}(" in stmt or stmt.rstrip().endswith(t)
               for t in ("tb_batch", "tb_batch_row", "tb_receipt", "dn_task_directory")):
            keep.append(stmt)
    return ";\n".join(keep) + ";\n"


def split_sql(text: str) -> list[str]:
    """Statements of a DDL file, comments removed."""
    lines = [line.split("--", 1)[0].rstrip() for line in text.splitlines()]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


def ddl_statements(profile: Profile, dialect: str) -> list[str]:
    out = []
    for stmt in split_sql(profile.ddl_text(dialect)):
        if dialect not in ("mysql", "mariadb"):
            stmt = stmt.replace(" ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin", "")
        out.append(stmt)
    return out
