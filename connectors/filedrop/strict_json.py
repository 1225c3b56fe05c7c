"""Strict JSON parsing for file-drop manifests and data lines (TBS-ENV-001, RFC 7493 I-JSON).

``json.loads`` is lenient in three ways I-JSON forbids: it keeps the last of duplicate
member names, accepts ``NaN``/``Infinity`` and lets ``\\ud800`` escapes through as unpaired
surrogates. This parser refuses all three, and refuses a byte-order mark and invalid UTF-8.

When the validators package offers ``parse_json_strict`` it is preferred, so that the
file binding and the stand-alone validator reject exactly the same texts.
"""
from __future__ import annotations

import json
from functools import cache
from typing import Any, Callable

__all__ = ["StrictJsonError", "loads_strict"]


class StrictJsonError(ValueError):
    """The bytes are not an I-JSON text (TBS-ENV-001)."""


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise StrictJsonError(f"duplicate member name {key!r}")
        obj[key] = value
    return obj


def _no_constant(name: str) -> Any:
    raise StrictJsonError(f"{name} is not JSON")


def _check_surrogates(value: Any) -> None:
    """An unpaired surrogate cannot be encoded as UTF-8: that is the I-JSON test."""
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            try:
                v.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise StrictJsonError("unpaired surrogate in a string") from exc
        elif isinstance(v, dict):
            stack.extend(v.keys())
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)


def _local_loads_strict(data: bytes) -> Any:
    if data.startswith(b"\xef\xbb\xbf"):
        raise StrictJsonError("byte-order mark")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise StrictJsonError(f"invalid UTF-8 at byte {exc.start}") from exc
    try:
        value = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except StrictJsonError:
        raise
    except ValueError as exc:  # json.JSONDecodeError is a ValueError
        raise StrictJsonError(str(exc)) from exc
    _check_surrogates(value)
    return value


@cache
def _resolve() -> Callable[[bytes], Any]:
    try:  # the validators package owns the canonical strict parser once it exists
        from tongban.validators import parse_json_strict  # type: ignore[attr-defined]
    except ImportError:
        return _local_loads_strict

    def via_validators(data: bytes) -> Any:
        try:
            return parse_json_strict(data)
        except StrictJsonError:
            raise
        except (ValueError, UnicodeError) as exc:
            raise StrictJsonError(str(exc)) from exc

    return via_validators


def loads_strict(data: bytes) -> Any:
    """Parse ``data`` as an I-JSON text; raise :class:`StrictJsonError` otherwise."""
    return _resolve()(data)
