"""The row checks of one row state that need nothing but the row (TBS-LP-030 L1): every
listed column read by its profile type (TBS-LP-012), upper-cased where TBS-LP-100 (b) says,
its code checked (TBS-LP-034). One finding per failing column, the first applicable rule of
TBS-LP-031, -032, -033, -034 in that order."""
from __future__ import annotations

from typing import Any

from tongban.connectors.frontdb.mapping import code_key_valid
from tongban.connectors.frontdb.profile import Profile, TableSpec
from tongban.connectors.frontdb.values import reader


def _upper(text: str) -> str:
    return text.upper() if text.isascii() else "".join(c.upper() if "a" <= c <= "z" else c for c in text)


_PLANS: dict[tuple[str, str], list[tuple[str, Any, bool, str | None]]] = {}


def _plan(profile: Profile, spec: TableSpec) -> list[tuple[str, Any, bool, str | None]]:
    """Per column: its reader, whether it is upper-cased, its code table."""
    key = (profile.name, spec.name)
    if key not in _PLANS:
        _PLANS[key] = [(col, reader(ptype), col in spec.upper, spec.codes.get(col))
                       for col, ptype in spec.columns.items()]
    return _PLANS[key]


def read_row(profile: Profile, spec: TableSpec, raw: dict[str, Any]) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """``(read values, [(rule id, column), …])``."""
    values: dict[str, Any] = {}
    errors: list[tuple[str, str]] = []
    op_col, time_col = spec.col("cd_operation"), spec.col("cd_time")
    for col, read, upper, code_table in _plan(profile, spec):
        raw_value = raw.get(col)
        if raw_value is None or raw_value == "":
            values[col] = None
            if col == time_col:
                errors.append(("TBS-LP-033", col))
            elif col == op_col:
                errors.append(("TBS-LP-034", col))  # a NULL cd_operation
            continue
        value, err = read(raw_value)
        if err is None and value is not None:
            if upper and value.__class__ is str:
                value = _upper(value)
            if col == op_col:
                if value not in ("I", "U", "D"):
                    err = "TBS-LP-034"
            elif code_table is not None and not code_key_valid(profile, code_table, value):
                err = "TBS-LP-034"
        if err:
            errors.append((err, col))
        values[col] = value
    return values, errors
