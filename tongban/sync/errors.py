"""Error text that may be stored (``sync_runs.error``) or printed: one line, no record values.

A database error carries the SQL statement and its parameters — record content, resident
identity numbers among them — and PostgreSQL adds a DETAIL line quoting the conflicting key.
None of that leaves here: a driver error is reduced to its class and first line, and any
identity-number-shaped value left in a message is masked (TBS-SEC-012).
"""
from __future__ import annotations

import re

from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError, StatementError

from tongban.model.codes import mask_id_number

# 18-character resident identity numbers (GB 11643) and 15-digit legacy ones, 11-digit
# mobile numbers: masked wherever they appear in a message.
_PERSONAL = re.compile(r"(?<![0-9A-Za-z])(?:[0-9]{17}[0-9Xx]|[0-9]{15}|1[3-9][0-9]{9})(?![0-9A-Za-z])")


def mask_text(message: str) -> str:
    return _PERSONAL.sub(lambda m: mask_id_number(m.group(0)), message)


def _first_line(message: str, limit: int = 300) -> str:
    line = message.strip().splitlines()[0] if message.strip() else ""
    return line if len(line) <= limit else line[:limit - 1] + "…"


def store_error_retriable(exc: BaseException) -> bool:
    """A lost connection or a busy/locked store: trying again later may succeed."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, (OperationalError, DisconnectionError)):
        text = str(getattr(exc, "orig", exc)).lower()
        return not ("readonly" in text or "read-only" in text or "no such table" in text)
    return False


def safe_error_text(exc: BaseException) -> str:
    """What may be stored and printed about ``exc``."""
    if isinstance(exc, StatementError):
        orig = getattr(exc, "orig", None)
        kind = type(orig).__name__ if orig is not None else type(exc).__name__
        detail = _first_line(str(orig)) if orig is not None else "database statement failed"
        if isinstance(exc, DBAPIError) and exc.connection_invalidated:
            detail = f"connection to the store lost ({detail})" if detail else "connection to the store lost"
        return mask_text(f"store error {kind}: {detail}")
    return mask_text(_first_line(str(exc)) or type(exc).__name__)
