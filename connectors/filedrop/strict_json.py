"""Strict JSON parsing for file-drop manifests and data lines (TBS-ENV-001, RFC 7493 I-JSON).

The binding parses with the validators' :func:`~tongban.validators.parse_json_strict`, so a
file drop, an MQTT message and the stand-alone validator refuse exactly the same texts
(duplicate member names, ``NaN``, unpaired surrogates, a byte-order mark, invalid UTF-8).
"""
from __future__ import annotations

from typing import Any

from tongban.validators.parsing import JsonParseError, parse_json_strict

__all__ = ["StrictJsonError", "loads_strict"]

StrictJsonError = JsonParseError


def loads_strict(data: bytes) -> Any:
    """Parse ``data`` as an I-JSON text; raise :class:`StrictJsonError` otherwise."""
    return parse_json_strict(data)
