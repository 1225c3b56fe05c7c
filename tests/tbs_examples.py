"""Helpers shared by the validator and security tests: the Annex B worked examples, Annex C style edits, the demo key."""
from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any, Callable

from tongban.validators.parsing import jcs_bytes

DATA = Path(__file__).resolve().parent / "data"
ANNEX_B = DATA / "annex_b"
DEMO_KEY = b"tbs-1.0-demo-key-440103-LWZWFW!!"
DEMO_KEY_ID = "LWZWFW-K1"
COUNTY = "TB:county:440103:LWZWFW"


def load_example(name: str) -> dict[str, Any]:
    return json.loads((ANNEX_B / f"{name}.json").read_text(encoding="utf-8"))


def changed(name: str, edit: Callable[[dict[str, Any]], Any], *, rehash: bool = True) -> dict[str, Any]:
    """Annex C style: example ``name`` with one change, ``recordsSha256`` recomputed."""
    envelope = copy.deepcopy(load_example(name))
    edit(envelope)
    if rehash:
        envelope["integrity"]["recordsSha256"] = hashlib.sha256(jcs_bytes(envelope["records"])).hexdigest()
    return envelope


def identities(report) -> list[tuple[str, str, str]]:
    return sorted(f.identity for f in report.items)

