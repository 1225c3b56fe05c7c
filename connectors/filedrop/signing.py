"""HMAC-SHA256 envelope signatures as TBS-ENV-028 defines them (sender side).

The signature base is the JCS serialization of the envelope after removing ``records`` and
removing ``signature`` from ``integrity``; ``records`` are covered through
``integrity.recordsSha256``. For a file drop that base is exactly the manifest without
``file`` and without the signature.

When the validators package offers ``tongban.validators.signature`` the verifying side
lives there; this module holds only what the writer needs, and a ``verify`` used by tests.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

from tongban.model.canonical import canonical_bytes, records_sha256

__all__ = ["signature_base", "hmac_sha256_value", "sign_envelope", "verify_hmac_sha256"]

HMAC_SHA256 = "HMAC-SHA256"


def signature_base(envelope: dict[str, Any]) -> bytes:
    """TBS-ENV-028: JCS of the envelope without ``records`` and without ``integrity.signature``."""
    base = {k: v for k, v in envelope.items() if k != "records"}
    integrity = base.get("integrity")
    if isinstance(integrity, dict):
        base["integrity"] = {k: v for k, v in integrity.items() if k != "signature"}
    return canonical_bytes(base)


def hmac_sha256_value(key: bytes, base: bytes) -> str:
    """Base64 (RFC 4648 §4, padded) of HMAC-SHA256(key, base)."""
    return base64.b64encode(hmac.new(key, base, hashlib.sha256).digest()).decode("ascii")


def sign_envelope(envelope: dict[str, Any], *, key_id: str, key: bytes) -> dict[str, Any]:
    """Return a copy of ``envelope`` with ``integrity.recordsSha256`` (when ``records`` are
    present) and an HMAC-SHA256 ``integrity.signature``.

    A file-drop writer signs the logical envelope (TBS-FILE-004) and adds ``file`` after.
    """
    signed = dict(envelope)
    integrity = dict(signed.get("integrity") or {})
    if "records" in signed:
        integrity["recordsSha256"] = records_sha256(signed["records"])
    integrity.pop("signature", None)
    signed["integrity"] = integrity
    value = hmac_sha256_value(key, signature_base(signed))
    integrity["signature"] = {"alg": HMAC_SHA256, "keyId": key_id, "value": value}
    return signed


def verify_hmac_sha256(envelope: dict[str, Any], key: bytes) -> bool:
    """True when ``integrity.signature`` is a valid HMAC-SHA256 signature under ``key``."""
    signature = (envelope.get("integrity") or {}).get("signature") or {}
    if signature.get("alg") != HMAC_SHA256 or not isinstance(signature.get("value"), str):
        return False
    expected = hmac_sha256_value(key, signature_base(envelope))
    return hmac.compare_digest(expected, signature["value"])
