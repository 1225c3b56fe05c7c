"""Canonical JSON (RFC 8785, JCS) and SHA-256 digests as TBS-1.0 §5.3 prescribes.

The fast path is ``json.dumps(sort_keys=True)``, byte-identical to JCS for TBS payloads
(ASCII member names, integers only). Values holding a float go through the RFC 8785
implementation itself, so ``5.0`` hashes as ``5`` exactly as the standard requires.
"""
from __future__ import annotations

import hashlib
import json
from typing import Any

import orjson
import rfc8785

_MAX_SAFE = 2**53 - 1


def _needs_full_jcs(value: Any) -> bool:
    """Whether ``value`` holds something the sorted-key fast path would write differently from
    JCS: a float, an integer beyond ±(2^53−1), or a non-ASCII member name (JCS sorts by UTF-16
    code units, which may differ from Python's code-point order)."""
    t = type(value)
    if t is str or t is bool or value is None:   # the bulk of a record: leaves, decided at once
        return False
    if t is dict:
        for k, v in value.items():
            if not k.isascii():
                return True
            if type(v) is not str and _needs_full_jcs(v):
                return True
        return False
    if t is list:
        for v in value:
            if type(v) is not str and _needs_full_jcs(v):
                return True
        return False
    if t is int:
        return abs(value) > _MAX_SAFE
    if isinstance(value, (dict, list)):     # subclasses: the same rules, more slowly
        return _needs_full_jcs_any(value)
    if isinstance(value, float):
        return True
    if isinstance(value, int) and not isinstance(value, bool):
        return abs(value) > _MAX_SAFE
    return False


def _needs_full_jcs_any(value: Any) -> bool:
    """:func:`_needs_full_jcs` without recursion (any depth, any dict or list subclass)."""
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, dict):
            stack.extend(v.values())
            if any(not k.isascii() for k in v):
                return True
        elif isinstance(v, list):
            stack.extend(v)
        elif isinstance(v, float):
            return True
        elif isinstance(v, int) and not isinstance(v, bool) and abs(v) > _MAX_SAFE:
            return True
    return False


def _unsafe_ints_as_floats(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _unsafe_ints_as_floats(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unsafe_ints_as_floats(v) for v in value]
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > _MAX_SAFE:
        return float(value)  # OverflowError beyond the double range: not a JSON number JCS can write
    return value


def canonical_bytes(value: Any) -> bytes:
    """RFC 8785 serialization of ``value`` encoded in UTF-8.

    JCS writes every number as an IEEE double (§5.3), so integers beyond ±(2^53−1) are
    serialized as the double they round to; the receiver reports them under TBS-ENV-005.
    """
    try:
        full = _needs_full_jcs(value)
    except RecursionError:   # nested deeper than the interpreter's stack: the same scan, iteratively
        full = _needs_full_jcs_any(value)
    if full:
        return rfc8785.dumps(_unsafe_ints_as_floats(value))
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


def canonical_bytes_validated(value: Any) -> bytes:
    """Canonical bytes of a record that passed TBS validation (§5.3): its member names are
    ASCII and its numbers integers within ±(2^53−1), so sorted-key compact JSON *is* RFC 8785
    and the scan :func:`canonical_bytes` makes is unnecessary. orjson writes exactly what
    ``json.dumps(sort_keys=True, ensure_ascii=False)`` writes for such values (the same short
    escapes, lower-case ``\\u00xx``, raw UTF-8), several times faster: this is the store's hot path.
    """
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def canonical_sha256(value: Any) -> str:
    return sha256_hex(canonical_bytes(value))


def records_sha256(records: list[Any]) -> str:
    """``integrity.recordsSha256`` of an envelope (TBS-ENV-027)."""
    return canonical_sha256(records)
