"""HMAC-SHA256 envelope signatures for senders (TBS-ENV-028, TBS-SEC-007).

The signature itself (base, value, verification) is the validators' —
:mod:`tongban.validators.signature` — so sender and receiver cannot drift apart. This
module adds what a sender needs before signing: ``integrity.recordsSha256`` (TBS-ENV-027),
which the signature covers in place of ``records``. A file-drop writer signs the logical
envelope (TBS-FILE-004) and adds ``file`` afterwards to make the manifest.
"""
from __future__ import annotations

from typing import Any

from tongban.model.canonical import records_sha256
from tongban.validators.signature import sign_hmac_sha256, verify_signature

__all__ = ["sign_envelope", "verify_hmac_sha256"]


def sign_envelope(envelope: dict[str, Any], *, key_id: str, key: bytes) -> dict[str, Any]:
    """A copy of ``envelope`` with ``integrity.recordsSha256`` and an HMAC-SHA256 signature."""
    unsigned = dict(envelope)
    integrity = dict(unsigned.get("integrity") or {})
    if "records" in unsigned:
        integrity["recordsSha256"] = records_sha256(unsigned["records"])
    unsigned["integrity"] = integrity
    return sign_hmac_sha256(unsigned, key, key_id)


def verify_hmac_sha256(envelope: dict[str, Any], key: bytes) -> bool:
    """True when ``integrity.signature`` is a valid HMAC-SHA256 signature under ``key``."""
    return verify_signature(envelope, key, "HMAC-SHA256")
