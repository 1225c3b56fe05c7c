"""Envelope signatures of TBS-ENV-028.

The signature base is the JCS serialization of the envelope after removing ``records`` and
removing ``signature`` from ``integrity``. HMAC-SHA256 is mandatory; HMAC-SM3 works where
the OpenSSL build offers SM3. SM2-SM3 is not implemented (OPTIONAL in TBS-1.0):
:func:`verify_signature` raises :class:`UnsupportedAlgorithm` for it.
"""
from __future__ import annotations

import base64
import binascii
import copy
import hashlib
import hmac
from typing import Any

from tongban.model.canonical import canonical_bytes

HMAC_DIGESTS = {"HMAC-SHA256": "sha256", "HMAC-SM3": "sm3"}


class UnsupportedAlgorithm(ValueError):
    """The algorithm is valid TBS but this installation cannot compute it."""


def signature_base(envelope: dict[str, Any]) -> bytes:
    """JCS of the envelope without ``records`` and without ``integrity.signature``."""
    base = {k: v for k, v in envelope.items() if k != "records"}
    integrity = base.get("integrity")
    if isinstance(integrity, dict):
        base["integrity"] = {k: v for k, v in integrity.items() if k != "signature"}
    return canonical_bytes(base)


def compute_signature(envelope: dict[str, Any], key: bytes, alg: str = "HMAC-SHA256") -> str:
    """The Base64 (RFC 4648 §4, padded) signature value for ``envelope``."""
    digest = HMAC_DIGESTS.get(alg)
    if digest is None or digest not in hashlib.algorithms_available:
        raise UnsupportedAlgorithm(f"{alg} is not supported here")
    mac = hmac.new(key, signature_base(envelope), digest).digest()
    return base64.b64encode(mac).decode("ascii")


def sign_hmac_sha256(envelope: dict[str, Any], key: bytes, key_id: str) -> dict[str, Any]:
    """A copy of ``envelope`` with ``integrity.signature`` set (HMAC-SHA256)."""
    signed = copy.deepcopy(envelope)
    integrity = signed.setdefault("integrity", {})
    integrity.pop("signature", None)
    value = compute_signature(signed, key, "HMAC-SHA256")
    integrity["signature"] = {"alg": "HMAC-SHA256", "keyId": key_id, "value": value}
    return signed


def verify_signature(envelope: dict[str, Any], key: bytes, alg: str | None = None) -> bool:
    """Does ``integrity.signature.value`` verify with ``key``? ``alg`` defaults to the envelope's."""
    signature = envelope.get("integrity", {}).get("signature", {})
    alg = alg or signature.get("alg", "")
    try:
        given = base64.b64decode(signature.get("value", ""), validate=True)
    except (binascii.Error, ValueError):
        return False
    expected = base64.b64decode(compute_signature(envelope, key, alg))
    return hmac.compare_digest(given, expected)
