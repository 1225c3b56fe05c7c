"""Reading a column value by its profile type (TBS-LP-012) and the time forms of TBS-LP-055.

Every function returns ``(read value, rule id or None)``: the rule is TBS-LP-031 (wrong
type), -032 (too long) or -033 (unparseable time) when the value cannot be read.
"""
from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any, Callable

from tongban.model.clock import CST

_DIGITS = re.compile(r"^[0-9]{1,18}$")
_DT_FORMS = (
    re.compile(r"^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$"),           # YYYYMMDDhhmmss
    re.compile(r"^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})$"),          # YYYYMMDDThhmmss
    re.compile(r"^(\d{4})(\d{2})(\d{2})(\d{2}):(\d{2}):(\d{2})$"),         # YYYYMMDDhh:mm:ss
    re.compile(r"^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})(?:\.\d{1,6})?$"),  # YYYY-MM-DD hh:mm:ss[.f]
)
_DATE_FORMS = (re.compile(r"^(\d{4})(\d{2})(\d{2})$"), re.compile(r"^(\d{4})-(\d{2})-(\d{2})$"))
TYPE_RE = re.compile(r"^VARCHAR\((\d+)\)$")


def is_null(value: Any) -> bool:
    return value is None or value == "" or value == b""


def reader(ptype: str):
    """A reader for one profile type with fast paths for the common driver values; any
    other value goes through :func:`read_value`."""
    m = TYPE_RE.match(ptype)
    if m:
        limit = int(m.group(1))

        def read_text(value: Any) -> tuple[Any, str | None]:
            if type(value) is str and value:
                return (value, None) if len(value) <= limit else (None, "TBS-LP-032")
            return read_value(value, ptype)
        return read_text
    if ptype == "INT":
        def read_int(value: Any) -> tuple[Any, str | None]:
            return (value, None) if type(value) is int else read_value(value, ptype)
        return read_int
    if ptype == "DATETIME":
        def read_dt(value: Any) -> tuple[Any, str | None]:
            if type(value) is str and len(value) == 19 and value[4] == "-" and value[10] == " " \
                    and value[7] == "-" and value[13] == ":" and value[16] == ":" and value.isascii():
                try:
                    return datetime.fromisoformat(value), None
                except ValueError:
                    return read_value(value, ptype)
            if type(value) is datetime and value.tzinfo is None and not value.microsecond:
                return value, None
            return read_value(value, ptype)
        return read_dt
    return lambda value: read_value(value, ptype)


def read_value(value: Any, ptype: str) -> tuple[Any, str | None]:
    """TBS-LP-012: NULL (and ``''``) is None; else the value of the profile type."""
    if is_null(value):
        return None, None
    if isinstance(value, (bytes, bytearray, memoryview)):
        try:
            value = bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            return None, "TBS-LP-031"
    m = TYPE_RE.match(ptype)
    if m or ptype == "TEXT":
        if isinstance(value, bool) or isinstance(value, (datetime, date)):
            return None, "TBS-LP-031"
        if isinstance(value, (int,)):
            value = str(value)
        elif not isinstance(value, str):
            if hasattr(value, "as_integer_ratio"):  # Decimal / float: its decimal text
                value = str(value)
            else:
                return None, "TBS-LP-031"
        if m and len(value) > int(m.group(1)):
            return None, "TBS-LP-032"
        return value, None
    if ptype == "INT":
        if isinstance(value, bool):
            return None, "TBS-LP-031"
        if isinstance(value, int):
            return value, None
        if isinstance(value, str) and _DIGITS.match(value):
            return int(value), None
        return None, "TBS-LP-031"
    if ptype == "DATETIME":
        return read_datetime(value)
    if ptype == "DATE":
        return read_date(value)
    raise ValueError(f"unknown profile type {ptype!r}")


def read_datetime(value: Any) -> tuple[datetime | None, str | None]:
    """A Beijing-time naive datetime, whole seconds (TBS-LP-055)."""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(CST).replace(tzinfo=None)
        return value.replace(microsecond=0), None
    if isinstance(value, date):
        return None, "TBS-LP-033"  # a date-only value in a DATETIME column
    return _from_text(value, _DT_FORMS, datetime)


def read_date(value: Any) -> tuple[date | None, str | None]:
    if isinstance(value, datetime):
        return None, "TBS-LP-031"
    if isinstance(value, date):
        return value, None
    return _from_text(value, _DATE_FORMS, date)


def _from_text(value: Any, forms: tuple[re.Pattern[str], ...], make: Callable[..., Any]) -> tuple[Any, str | None]:
    """A date or datetime written as text (or as an integer such as 20261127) in one of ``forms``:
    not text is TBS-LP-031, text in no form or naming no real day TBS-LP-033."""
    if isinstance(value, bool):
        return None, "TBS-LP-031"
    if isinstance(value, int):
        value = str(value)
    if not isinstance(value, str):
        return None, "TBS-LP-031"
    for form in forms:
        m = form.match(value)
        if m:
            try:
                return make(*(int(g) for g in m.groups())), None
            except ValueError:
                return None, "TBS-LP-033"
    return None, "TBS-LP-033"


def tbs_datetime(value: datetime | None) -> str | None:
    """Mapped date-times are ``YYYY-MM-DDThh:mm:ss+08:00`` (TBS-ENV-010)."""
    return None if value is None else value.isoformat(timespec="seconds") + "+08:00"


def sql_datetime(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S")


def digest_value(value: Any) -> Any:
    """Read values in the digest of TBS-LP-035."""
    if isinstance(value, datetime):
        return sql_datetime(value)
    if isinstance(value, date):
        return value.isoformat()
    return value
