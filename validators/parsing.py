"""Strict JSON parsing and hashing for stage S0 (TBS-ENV-001, TBS-ENV-027, TBS-ENV-031).

``json.loads`` is lenient where I-JSON (RFC 7493) is not: it keeps the last of duplicate
member names, accepts ``NaN``/``Infinity``, lets ``\\ud800`` escapes through as unpaired
surrogates and turns ``1e400`` into ``inf``. :func:`parse_json_strict` refuses all of those,
plus a byte-order mark and invalid UTF-8, and it refuses nesting deeper than
:data:`MAX_NESTING` (RFC 8259 §9 lets a parser limit depth; no valid TBS text comes close).
"""
from __future__ import annotations

import hashlib
import json
import math
import re
from typing import Any, Callable

import rfc8785

from tongban.model.canonical import canonical_bytes

__all__ = ["JsonParseError", "MAX_NESTING", "array_member_texts", "parse_json_strict", "parse_json_strict_jcs",
           "jcs_bytes", "request_hash"]

# The deepest valid TBS text (an acknowledgement's report inside rejected[] or an ext object
# at depth 8 inside a record) stays below 20 levels; 256 leaves room and stays far from
# Python's recursion limit.
MAX_NESTING = 256
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89abcdefABCDEF][0-9a-fA-F]{2}")
_SURROGATE_CHAR = re.compile("[\ud800-\udfff]")


class JsonParseError(ValueError):
    """The input is not an I-JSON text (TBS-ENV-001). ``reason`` is a short English phrase."""

    def __init__(self, reason: str, reason_zh: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.reason_zh = reason_zh or reason


def _object_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise JsonParseError(f"duplicate member name {key!r}", f"成员名重复：{key!r}")
            seen.add(key)
    return obj


def _refuse_constant(name: str) -> Any:
    raise JsonParseError(f"{name} is not a JSON value", f"{name} 不是 JSON 值")


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise JsonParseError(f"number {text[:40]} exceeds the IEEE 754 double range (I-JSON)",
                             f"数值 {text[:40]} 超出 IEEE 754 双精度范围（I-JSON）")
    return value


def _check_depth_and_surrogates(value: Any, check_surrogates: bool) -> None:
    """Iterative walk: nesting depth, and unpaired surrogates in names and strings."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        v, depth = stack.pop()
        if isinstance(v, dict):
            if depth > MAX_NESTING:
                raise JsonParseError(f"nesting deeper than {MAX_NESTING} levels", f"嵌套超过 {MAX_NESTING} 层")
            for k, item in v.items():
                if check_surrogates and _SURROGATE_CHAR.search(k):
                    raise JsonParseError("unpaired surrogate in a member name", "成员名含未配对的代理码点")
                stack.append((item, depth + 1))
        elif isinstance(v, list):
            if depth > MAX_NESTING:
                raise JsonParseError(f"nesting deeper than {MAX_NESTING} levels", f"嵌套超过 {MAX_NESTING} 层")
            stack.extend((item, depth + 1) for item in v)
        elif check_surrogates and isinstance(v, str) and _SURROGATE_CHAR.search(v):
            raise JsonParseError("unpaired surrogate in a string", "字符串含未配对的代理码点")


def _check_depth(value: Any) -> None:
    """Nesting depth only (no surrogate check needed): visits containers, skips scalars."""
    level = [value]
    depth = 1
    while level:
        if depth > MAX_NESTING:
            raise JsonParseError(f"nesting deeper than {MAX_NESTING} levels", f"嵌套超过 {MAX_NESTING} 层")
        nxt: list[Any] = []
        append = nxt.append
        for v in level:   # plain loops: a generator per container costs twice as much on a 1,000-record page
            for i in (v.values() if type(v) is dict else v):
                if type(i) is dict or type(i) is list:
                    append(i)
        level = nxt
        depth += 1


# What can make sorted-key compact JSON differ from RFC 8785 in a parsed text besides a float
# (seen by the float hook) and an integer of 16 digits or more (seen by the integer hook: beyond
# ±(2^53−1) JCS writes the double it rounds to): a member name holding a character from U+E000
# on (JCS orders names by UTF-16 code units, which differs from code-point order only there), or
# such a character written as a \u escape anywhere. The pattern may also match inside a string
# value — then the slow path decides. It starts at a rare character or escape, not at every
# bracket or comma: one pass over a 1 000-record page costs about half a millisecond.
_JCS_NAME_RISK = re.compile(r'[\ue000-\U0010ffff][^"\\]*(?:\\.[^"\\]*)*"\s*:|\\u(?:[eEfF]|[dD][89a-fA-F])')


def parse_json_strict(data: bytes | str) -> Any:
    """Parse one I-JSON text (TBS-ENV-001); raise :class:`JsonParseError` otherwise.

    ``bytes`` must be UTF-8 without a byte-order mark. A ``str`` is taken as already decoded
    (it must not start with U+FEFF either).
    """
    return _parse(data, None)


def parse_json_strict_jcs(data: bytes | str) -> tuple[Any, bool]:
    """:func:`parse_json_strict`, and whether the value's RFC 8785 form is plain sorted-key
    compact JSON (no float, no integer beyond ±(2^53−1), no member name whose JCS order differs),
    so that :func:`tongban.model.canonical.canonical_bytes_validated` may write it: what an
    envelope's two digests (TBS-ENV-027, TBS-ENV-031) are computed from."""
    risks: list[str] = []
    value = _parse(data, risks)
    return value, not risks


def _parse(data: bytes | str, risks: list[str] | None) -> Any:
    """The strict parse; with ``risks``, also note there what keeps the text from being plain
    JCS (only a caller that hashes needs that, so the plain parse pays nothing for it)."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        raw = bytes(data)
        if raw.startswith(b"\xef\xbb\xbf"):
            raise JsonParseError("byte-order mark before the JSON text", "JSON 文本前有字节顺序标记（BOM）")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise JsonParseError(f"invalid UTF-8 at byte {exc.start}", f"第 {exc.start} 字节处不是有效的 UTF-8") from None
    else:
        text = data
        if text.startswith("\ufeff"):
            raise JsonParseError("byte-order mark before the JSON text", "JSON 文本前有字节顺序标记（BOM）")
    hooks: dict[str, Callable[[str], Any]] = {"parse_float": _finite_float}
    if risks is not None:
        def parse_float(number: str) -> float:
            risks.append(number)
            return _finite_float(number)

        def parse_int(number: str) -> int:
            if len(number) >= (17 if number[0] == "-" else 16):
                risks.append(number)
            return int(number)

        # an integer hook costs a call per integer (the scanner's own path is faster): only here
        hooks = {"parse_float": parse_float, "parse_int": parse_int}
    try:
        value = json.loads(text, object_pairs_hook=_object_without_duplicates, parse_constant=_refuse_constant,
                           **hooks)
    except JsonParseError:
        raise
    except RecursionError:
        raise JsonParseError(f"nesting deeper than {MAX_NESTING} levels", f"嵌套超过 {MAX_NESTING} 层") from None
    except ValueError as exc:  # json.JSONDecodeError
        raise JsonParseError(f"not a JSON text: {exc}", f"不是 JSON 文本：{exc}") from None
    # A str input may carry lone surrogates directly; bytes can only carry them as \u escapes.
    check_surrogates = not isinstance(data, (bytes, bytearray, memoryview)) or bool(_SURROGATE_ESCAPE.search(text))
    # Depth > MAX_NESTING needs at least MAX_NESTING opening brackets: skip the walk otherwise.
    if check_surrogates:
        _check_depth_and_surrogates(value, check_surrogates)
    elif text.count("[") + text.count("{") > MAX_NESTING and type(value) in (dict, list):
        _check_depth(value)
    if risks is not None and not risks and _JCS_NAME_RISK.search(text):
        risks.append("member name")
    return value


# RFC 8785 bytes of a value (§5.3), integers beyond ±(2^53−1) included: the model's canonical form.
jcs_bytes = canonical_bytes


def request_hash(envelope: Any, raw: bytes | None, *, jcs: Callable[[Any], bytes] = jcs_bytes) -> str:
    """TBS-ENV-031: SHA-256 over JCS of the parsed envelope, else over the raw bytes. ``jcs``:
    the serializer (:func:`canonical_bytes_validated` for a value :func:`parse_json_strict_jcs`
    found plain)."""
    if envelope is not None:
        try:
            return hashlib.sha256(jcs(envelope)).hexdigest()
        except (OverflowError, ValueError, TypeError, rfc8785.CanonicalizationError):
            pass
    return hashlib.sha256(raw or b"").hexdigest()


_JSON_WS = re.compile(r"[ \t\n\r]*")


def array_member_texts(data: bytes | str, member: str) -> list[str] | None:
    """The exact text of each element of the array ``member`` of a JSON object text (the
    ``records`` of a page or envelope, as received), or None when ``data`` is no such text.

    Meant for a text that already passed :func:`parse_json_strict`."""
    try:
        text = data.decode("utf-8") if isinstance(data, (bytes, bytearray)) else data
        decoder = json.JSONDecoder()

        def skip(i: int) -> int:
            return _JSON_WS.match(text, i).end()  # type: ignore[union-attr]

        i = skip(0)
        if text[i] != "{":
            return None
        i = skip(i + 1)
        while text[i] != "}":
            key, i = decoder.raw_decode(text, i)
            i = skip(skip(i) + 1)   # past ':'
            if key == member and text[i] == "[":
                texts: list[str] = []
                i = skip(i + 1)
                while text[i] != "]":
                    _, end = decoder.raw_decode(text, i)
                    texts.append(text[i:end])
                    i = skip(end)
                    if text[i] == ",":
                        i = skip(i + 1)
                return texts
            _, i = decoder.raw_decode(text, i)
            i = skip(i)
            if text[i] == ",":
                i = skip(i + 1)
        return None
    except (ValueError, IndexError, UnicodeDecodeError):
        return None
