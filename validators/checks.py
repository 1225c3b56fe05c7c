"""Value checks that JSON Schema keywords cannot express, named as the schemas name them.

The schemas carry the syntax (``pattern``, ``enum``, lengths); this module carries the rest:
the TBS-ENV-006 string rules, calendar validity of dates (TBS-ENV-007/008), the
``x-tbs-formats`` (extra conditions reported under the member's Rule) and the
``x-tbs-checks`` (check characters, TBS-CODE-014/015/017). A schema naming a check that is
not registered here fails to load, so a new spec version cannot silently skip one.
"""
from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from typing import Callable

from tongban.model.clock import CST
from tongban.model.codes import (
    resident_id_check_char, resident_id_check_ok, uscc_check_char, uscc_check_ok, valid_calendar_date,
)

# Unicode White_Space (TBS-ENV-006), spelled out: Python's \s differs from it.
WHITE_SPACE = "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_CONTROL = re.compile("[\x00-\x1f\x7f]")
_CONTROL_EXCEPT_TAB_LF_CR = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_EDGE_WHITE_SPACE = re.compile(f"^[{WHITE_SPACE}]|[{WHITE_SPACE}]\\Z")
_NON_WHITE_SPACE = re.compile(f"[^{WHITE_SPACE}]")

_DATE_TIME = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,3}))?(Z|([+-])([0-9]{2}):([0-9]{2}))"
)
_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")


def string_problem(value: str, kind: str) -> tuple[str, str] | None:
    """TBS-ENV-006 for a string of §5.2 kind ``string`` or ``text``: (en, zh) reason or None."""
    if kind == "text":
        if _CONTROL_EXCEPT_TAB_LF_CR.search(value):
            return "control character", "含控制字符"
    elif _CONTROL.search(value):
        return "control character", "含控制字符"
    if not _NON_WHITE_SPACE.search(value):
        return "empty or only white space", "为空或全为空白"
    if kind != "text" and _EDGE_WHITE_SPACE.search(value):
        return "leading or trailing white space", "首尾含空白"
    return None


def parse_date_time(value: str) -> datetime | None:
    """The instant of a TBS-ENV-007 ``date-time``, or None when the value is not one."""
    m = _DATE_TIME.fullmatch(value)
    if not m:
        return None
    year, month, day, hour, minute, second = (int(m.group(i)) for i in range(1, 7))
    if hour > 23 or minute > 59 or second > 59:
        return None
    if m.group(8) == "Z":
        tz = timezone.utc
    else:
        oh, om = int(m.group(10)), int(m.group(11))
        if om > 59 or oh * 60 + om > 14 * 60 or (m.group(9) == "-" and oh == 0 and om == 0):
            return None
        delta = timedelta(hours=oh, minutes=om)
        tz = timezone(delta if m.group(9) == "+" else -delta)
    frac = m.group(7)
    micro = int(frac.ljust(6, "0")) if frac else 0
    try:
        return datetime(year, month, day, hour, minute, second, micro, tzinfo=tz)
    except ValueError:  # not a real calendar date (or year 0000)
        return None


def instant(value: str) -> datetime:
    """The instant of a ``date-time`` already known to be valid (S3 reads only valid members)."""
    return datetime.fromisoformat(value)


def parse_date(value: str) -> date | None:
    """The calendar date of a TBS-ENV-008 ``date``, or None."""
    m = _DATE.fullmatch(value)
    if not m:
        return None
    try:
        return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return None




def china_date(instant: datetime) -> date:
    """The +08:00 calendar date of an instant (TBS-CODE-011, TBS-RES-002)."""
    return instant.astimezone(CST).date()


# --- x-tbs-formats: extra conditions of a member's Rule -------------------------------------

def _resident_id_birth_date(value: str) -> bool:
    """TBS-CODE-016: positions 7–14 are a valid calendar date from 1900-01-01 onwards."""
    birth = value[6:14]
    return valid_calendar_date(birth) and birth >= "19000101"


FORMATS: dict[str, Callable[[str], bool]] = {
    "resident-id-birth-date": _resident_id_birth_date,
}


# --- x-tbs-checks: check characters, each with its own rule ---------------------------------

class CheckResult:
    """A failed check: the rule it is reported under (TBS-CODE-015 is an INFO)."""

    __slots__ = ("rule_id", "en", "zh")

    def __init__(self, rule_id: str, en: str, zh: str) -> None:
        self.rule_id, self.en, self.zh = rule_id, en, zh


def _uscc_check(code: str, allowlist: frozenset[str], what_en: str = "", what_zh: str = "") -> CheckResult | None:
    if uscc_check_ok(code):
        return None
    computed = uscc_check_char(code[:17])
    if code in allowlist:
        return CheckResult("TBS-CODE-015", f"{what_en}computed check character {computed}; {code} is on the allowlist",
                           f"{what_zh}计算得校验码 {computed}，{code} 在允许清单中")
    return CheckResult("TBS-CODE-014", f"{what_en}computed check character is {computed} (GB 32100)",
                       f"{what_zh}计算得校验码为 {computed}（GB 32100）")


def _uscc_check_character(value: str, allowlist: frozenset[str]) -> CheckResult | None:
    """TBS-CODE-014/015 on a uscc-typed value (or an idNo of idType USCC)."""
    return _uscc_check(value, allowlist)


def _impl_code_uscc_check_character(value: str, allowlist: frozenset[str]) -> CheckResult | None:
    """TBS-CODE-014/015 on positions 1–18 of an implCode, located at the implCode."""
    return _uscc_check(value[:18], allowlist, "positions 1–18: ", "第 1–18 位：")


def _resident_id_check_character(value: str, allowlist: frozenset[str]) -> CheckResult | None:
    """TBS-CODE-017 (GB 11643, ISO 7064 MOD 11-2)."""
    if resident_id_check_ok(value):
        return None
    computed = resident_id_check_char(value[:17])
    return CheckResult("TBS-CODE-017", f"computed check character is {computed} (GB 11643)",
                       f"计算得校验码为 {computed}（GB 11643）")


CHECKS: dict[str, Callable[[str, frozenset[str]], CheckResult | None]] = {
    "uscc-check-character": _uscc_check_character,
    "impl-code-uscc-check-character": _impl_code_uscc_check_character,
    "resident-id-check-character": _resident_id_check_character,
}


# --- the fast path's view of the same checks: "passes, with nothing to report?" ------------

def _memo(predicate: Callable[[str], bool], size: int = 65536) -> Callable[[str], bool]:
    """A bounded memo of a pure string predicate: codes such as a department's USCC recur in
    every record of its cases, so the check character is computed once per code."""
    seen: dict[str, bool] = {}
    get = seen.get

    def check(value: str) -> bool:
        result = get(value)
        if result is None:
            if len(seen) >= size:
                seen.clear()
            result = seen[value] = predicate(value)
        return result
    return check


# An allowlisted code still yields a TBS-CODE-015 INFO, so only a passing check is "clean".
CACHED_CHECKS: dict[str, Callable[[str], bool]] = {
    "uscc-check-character": _memo(uscc_check_ok),
    "impl-code-uscc-check-character": _memo(lambda v: uscc_check_ok(v[:18])),
    "resident-id-check-character": _memo(resident_id_check_ok),
}
