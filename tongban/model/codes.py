"""Identifier syntax and check characters of TBS-1.0 §6.

Pure functions shared by the validators (which check codes) and the sandbox (which
generates valid ones). Every algorithm is the one the standard spells out.
"""
from __future__ import annotations

import re
from datetime import date
from functools import lru_cache

PROVINCE_PREFIX = r"(?:1[1-5]|2[1-3]|3[1-7]|4[1-6]|5[0-4]|6[1-5]|71|81|82)"
REGION_CODE_RE = re.compile(rf"^{PROVINCE_PREFIX}[0-9]{{4}}$")
SYSTEM_ID_RE = re.compile(r"^TB:(province|city|county|department):([0-9]{6}):([A-Z0-9][A-Z0-9-]{1,31})$")
ITEM_CODE_RE = re.compile(
    rf"^(?:00|{PROVINCE_PREFIX})(?:[01][0-9]|2[0-9])[0-9]{{2}}[0-9A-HJ-NPQRTUWXY]{{3}}(?:00Y|[0-9]{{3}})$"
)
USCC_RE = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{18}$")
RESIDENT_ID_RE = re.compile(r"^[0-9]{17}[0-9X]$")
CASE_NO_RE = re.compile(r"^[0-9A-Z]{1,50}$")

# GB 32100—2015 alphabet in value order 0–30 (I, O, S, V, Z are absent).
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_VALUE = {c: i for i, c in enumerate(USCC_ALPHABET)}
USCC_WEIGHTS = tuple(pow(3, i, 31) for i in range(17))  # 1, 3, 9, 27, 19, 26, …

# GB 11643—1999 (ISO 7064 MOD 11-2).
RESIDENT_ID_WEIGHTS = tuple(pow(2, 17 - i, 11) for i in range(17))  # 7, 9, 10, 5, …
RESIDENT_ID_CHECK = "10X98765432"

LEVELS = ("province", "city", "county", "department")


def uscc_check_char(first17: str) -> str:
    """The GB 32100 check character for the first 17 characters of a USCC."""
    s = sum(_USCC_VALUE[c] * w for c, w in zip(first17, USCC_WEIGHTS))
    return USCC_ALPHABET[(31 - s % 31) % 31]


def uscc_syntax_ok(value: str) -> bool:
    return bool(USCC_RE.fullmatch(value))


def uscc_check_ok(value: str) -> bool:
    """True when the 18th character equals the computed one (syntax must already hold)."""
    return uscc_check_char(value[:17]) == value[17]


def resident_id_check_char(first17: str) -> str:
    s = sum(int(d) * w for d, w in zip(first17, RESIDENT_ID_WEIGHTS))
    return RESIDENT_ID_CHECK[s % 11]


def resident_id_check_ok(value: str) -> bool:
    return resident_id_check_char(value[:17]) == value[17]


def region_code_ok(value: str) -> bool:
    return bool(REGION_CODE_RE.fullmatch(value))


def region_shape(code: str) -> str:
    """``province``, ``city`` or ``county`` (§6.1)."""
    if code[2:6] == "0000":
        return "province"
    if code[4:6] == "00":
        return "city"
    return "county"


def within_scope(region: str, scope_region: str) -> bool:
    """Is ``region`` within the scope of a system whose region code is ``scope_region``?"""
    shape = region_shape(scope_region)
    if shape == "province":
        return region[:2] == scope_region[:2]
    if shape == "city":
        return region[:4] == scope_region[:4]
    return region == scope_region


@lru_cache(maxsize=4096)
def parse_system_id(value: str) -> tuple[str, str, str] | None:
    """``(level, regionCode, systemCode)`` for a syntactically valid system id, else None."""
    m = SYSTEM_ID_RE.fullmatch(value)
    return (m.group(1), m.group(2), m.group(3)) if m else None


def system_id_ok(value: str) -> bool:
    """TBS-CODE-001: syntax, region prefix and shape fitting the level."""
    parts = parse_system_id(value)
    if parts is None:
        return False
    level, region, _ = parts
    if not region_code_ok(region):
        return False
    return level == "department" or region_shape(region) == level


def item_code_ok(value: str) -> bool:
    """TBS-CODE-004: basic item code (12 characters)."""
    return bool(ITEM_CODE_RE.fullmatch(value)) and value[6:9] != "000"


def impl_code_ok(value: str) -> bool:
    """TBS-CODE-005: implementation code syntax (the USCC check character is TBS-CODE-014)."""
    return (
        len(value) == 31
        and uscc_syntax_ok(value[:18])
        and value[18] in "1234567"
        and item_code_ok(value[19:])
    )


def handling_item_code_ok(value: str) -> bool:
    """TBS-CODE-006: business handling item code (33 characters)."""
    return len(value) == 33 and impl_code_ok(value[:31]) and bool(re.fullmatch(r"0[1-9]|[1-9][0-9]", value[31:]))


def valid_calendar_date(yyyymmdd: str) -> bool:
    if not (len(yyyymmdd) == 8 and yyyymmdd.isdigit() and yyyymmdd.isascii()):
        return False
    try:
        date(int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:]))
    except ValueError:
        return False
    return True


def case_no_structured(value: str) -> bool:
    """§6.3: 43 characters, last 12 digits, first 31 satisfy TBS-CODE-005."""
    return len(value) == 43 and value[31:].isdigit() and value[31:].isascii() and impl_code_ok(value[:31])


def mask_id_number(value: str) -> str:
    """TBS-SEC-012: keep the first 6 and last 4 characters (≤ 10 characters: the last 2)."""
    if len(value) <= 10:
        return "*" * max(len(value) - 2, 0) + value[-2:]
    return value[:6] + "*" * (len(value) - 10) + value[-4:]
