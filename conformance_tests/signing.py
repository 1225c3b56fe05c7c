"""The issuer's Ed25519 signature on a certificate, so that a third party can check it.

The signature covers the JCS (RFC 8785) of the certificate without its ``signature`` member;
``signature`` carries the algorithm, the issuer's public key (raw 32 bytes, base64) and its key
id (the first 16 hex digits of the SHA-256 of that key). A verifier pins the issuer by passing
the issuer's published public key; without one the embedded key is used and the key id shown,
so the reader can compare it with the one the testing authority publishes.
"""
from __future__ import annotations

import base64
import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any, Callable

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from tongban.model.canonical import canonical_bytes

SIGNATURE_MEMBER = "signature"
ALGORITHM = "Ed25519"


class SigningKeyError(ValueError):
    """The issuer key file cannot be read or is not an Ed25519 key."""


def _raw(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(public: Ed25519PublicKey) -> str:
    return hashlib.sha256(_raw(public)).hexdigest()[:16]


def load_or_create_issuer_key(path: Path) -> Ed25519PrivateKey:
    """The issuer's private key from ``path`` (PKCS#8 PEM); a new one is written (mode 0600) when
    the file does not exist yet. Processes creating it at the same moment (several certifying
    tasks on one worker) all end with the one key that landed: it is written to a temporary file
    and linked into place, so the file is never seen half written and is never replaced."""
    if not path.exists():
        key = Ed25519PrivateKey.generate()
        path.parent.mkdir(parents=True, exist_ok=True)
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")   # mode 0600
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(pem)
            try:
                os.link(tmp, path)
            except FileExistsError:
                pass   # another process created it first: its key is the issuer's
        finally:
            os.unlink(tmp)
    return _ed25519(path, Ed25519PrivateKey, "not an unencrypted PEM private key",
                    lambda: serialization.load_pem_private_key(path.read_bytes(), password=None))


def load_public_key(path: Path) -> Ed25519PublicKey:
    """An issuer's public key: a PEM (SubjectPublicKeyInfo) file or the base64 of the raw 32 bytes."""
    data = path.read_bytes()
    return _ed25519(path, Ed25519PublicKey, "not an Ed25519 public key",
                    lambda: serialization.load_pem_public_key(data) if b"-----BEGIN" in data else
                    Ed25519PublicKey.from_public_bytes(base64.b64decode(data.strip(), validate=True)))


def _ed25519(path: Path, kind: type[Any], unreadable: str, load: Callable[[], Any]) -> Any:
    """The key ``load`` reads from ``path``: SigningKeyError when it cannot be read (``unreadable``)
    or is not an Ed25519 ``kind``."""
    try:
        key = load()
    except (ValueError, TypeError) as exc:
        raise SigningKeyError(f"{path}: {unreadable} ({exc})") from exc
    if not isinstance(key, kind):
        raise SigningKeyError(f"{path}: the issuer key must be Ed25519, not {type(key).__name__}")
    return key


def public_pem(key: Ed25519PrivateKey) -> str:
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo).decode("ascii")


def _signed_bytes(certificate: dict[str, Any]) -> bytes:
    return canonical_bytes({k: v for k, v in certificate.items() if k != SIGNATURE_MEMBER})


def sign(certificate: dict[str, Any], key: Ed25519PrivateKey) -> dict[str, Any]:
    """``certificate`` with its ``signature`` member (any previous one replaced)."""
    public = key.public_key()
    value = key.sign(_signed_bytes(certificate))
    return {**{k: v for k, v in certificate.items() if k != SIGNATURE_MEMBER},
            SIGNATURE_MEMBER: {"alg": ALGORITHM, "keyId": key_id(public),
                               "publicKey": base64.b64encode(_raw(public)).decode("ascii"),
                               "value": base64.b64encode(value).decode("ascii")}}


def signature_problems(certificate: dict[str, Any], trusted: Ed25519PublicKey | None = None) -> list[str]:
    """Why the signature of ``certificate`` does not hold (empty when it does). With ``trusted``
    the signature must also be made with that key (the issuer's published key)."""
    sig = certificate.get(SIGNATURE_MEMBER)
    if not isinstance(sig, dict):
        return ["the certificate is not signed (no signature member)"]
    if sig.get("alg") != ALGORITHM:
        return [f"signature algorithm {sig.get('alg')!r} is not {ALGORITHM}"]
    try:
        embedded = Ed25519PublicKey.from_public_bytes(base64.b64decode(str(sig.get("publicKey")), validate=True))
        value = base64.b64decode(str(sig.get("value")), validate=True)
    except (ValueError, TypeError) as exc:
        return [f"signature member is malformed: {exc}"]
    problems = []
    if sig.get("keyId") != key_id(embedded):
        problems.append(f"signature keyId {sig.get('keyId')} does not name its public key ({key_id(embedded)})")
    if trusted is not None and _raw(trusted) != _raw(embedded):
        problems.append(f"signed with key {key_id(embedded)}, not with the issuer's key {key_id(trusted)}")
    try:
        (trusted or embedded).verify(value, _signed_bytes(certificate))
    except InvalidSignature:
        problems.append("the Ed25519 signature does not match the certificate's content (changed after signing)")
    return problems


__all__ = ["SigningKeyError", "key_id", "load_or_create_issuer_key", "load_public_key", "public_pem", "sign",
           "signature_problems"]
