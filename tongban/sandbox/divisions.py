"""Guangdong's real administrative divisions (GB/T 2260) as shipped in ``guangdong_divisions.csv``.

The file names its source in its header: the National Bureau of Statistics' 2023 statistical
division codes as published by github.com/modood/Administrative-divisions-of-China (first six
digits = GB/T 2260). 21 prefecture-level cities and 122 county-level divisions; 东莞市 and 中山市
have none under them (不设区的地级市).
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

__all__ = ["Division", "guangdong_divisions"]

DATA_FILE = "guangdong_divisions.csv"


@dataclass(frozen=True)
class Division:
    code: str      # six-digit GB/T 2260 code
    name: str      # 荔湾区
    level: str     # province | city | county
    parent: str    # code of the enclosing division ("" for the province)


@lru_cache(maxsize=1)
def guangdong_divisions() -> tuple[Division, ...]:
    """Province, then each city followed by its county-level divisions, in code order."""
    text = resources.files("tongban.sandbox").joinpath(DATA_FILE).read_text(encoding="utf-8")
    rows = csv.DictReader(line for line in text.splitlines() if not line.startswith("#"))
    divisions = tuple(Division(r["code"], r["name"], r["level"], r["parent"]) for r in rows)
    for d in divisions:
        if len(d.code) != 6 or not d.code.isdigit() or d.level not in ("province", "city", "county"):
            raise ValueError(f"{DATA_FILE}: malformed division {d}")
    return divisions
