"""Identifiers and names of people and bodies: valid by construction.

USCCs pass GB 32100 (TBS-CODE-013/014), resident identity numbers pass GB 11643 with real
birth dates (TBS-CODE-016/017).
"""
from __future__ import annotations

import random
from datetime import date

from tongban.model.codes import USCC_ALPHABET, resident_id_check_char, uscc_check_char
from tongban.sandbox import names

__all__ = ["business_uscc", "gov_uscc", "person_name", "resident_id"]


def gov_uscc(rng: random.Random, region: str) -> str:
    """A 机构编制-registered government organ: ``11`` + region + GB 11714 organization code."""
    body = "00" + "".join(rng.choice("0123456789") for _ in range(6))
    return _uscc("11" + region + body + _org_code_check(body))


def _org_code_check(first8: str) -> str:
    """GB 11714 check character of an organization code (values 0–9, A–Z = 10–35)."""
    weights = (3, 7, 9, 10, 5, 8, 4, 2)
    s = sum(int(c, 36) * w for c, w in zip(first8, weights))
    c = 11 - s % 11
    return "X" if c == 10 else "0" if c == 11 else str(c)


def _uscc(first17: str) -> str:
    return first17 + uscc_check_char(first17)


def business_uscc(rng: random.Random, region: str, category: str) -> str:
    """A newly registered market entity (``91`` company, ``92`` 个体工商户): region + ``MA`` + 7."""
    return _uscc(category + region + "MA" + "".join(rng.choice(USCC_ALPHABET) for _ in range(7)))


def person_name(rng: random.Random, male: bool) -> str:
    surname = rng.choice(names.SURNAME_PAIRS) if rng.random() < 0.03 else \
        names.SURNAMES[min(int(rng.expovariate(1 / 18)), len(names.SURNAMES) - 1)]
    return surname + rng.choice(names.GIVEN_MALE if male else names.GIVEN_FEMALE)


def resident_id(rng: random.Random, address: str, born: date, male: bool) -> str:
    seq = rng.randrange(1, 500) * 2 - (1 if male else 0)   # odd for men, even for women
    first17 = f"{address}{born:%Y%m%d}{seq:03d}"
    return first17 + resident_id_check_char(first17)
