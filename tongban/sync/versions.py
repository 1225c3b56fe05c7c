"""Which version a relay writes a stored record in (TBS-1.1: TBS-ENV-034, TBS-SYNC-015 (b), Annex E).

A relay sends each record in the highest version both it and the receiver support. The
record goes in that version only if its form in that version exists (Annex E) and passes
stages S1–S3 of that version (WARNING and INFO do not count). A record whose upgraded form
fails is sent in its received version while the receiver supports it; a record with no form
in any version the receiver supports is withheld (an operational incident for the bus
operator, not a verdict).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from tongban.model.annex_e import NotRepresentable, convert, downgrade
from tongban.validators import ValidationContext, validate_record


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.rpartition("-")[2].split("."))


@dataclass(frozen=True)
class RelayForm:
    version: str | None          # None: withheld
    record: dict[str, Any] | None
    reason: str                  # why this version (or why withheld)


def exchange_version(own_versions: Iterable[str], partner_versions: Iterable[str]) -> str | None:
    """TBS-ENV-034: the highest version both sides support; None when they share none."""
    common = sorted(set(own_versions) & set(partner_versions), key=_version_key)
    return common[-1] if common else None


def passes(dataset: str, record: dict[str, Any], version: str) -> bool:
    """Stages S1–S3 of ``version`` find no ERROR (no writer: S4 is the receiver's authorization)."""
    return validate_record(dataset, record, index=0, writer=None, context=ValidationContext(spec=version)).errors == 0


def relay_form(dataset: str, record: dict[str, Any], received_version: str, own_versions: Iterable[str],
               receiver_versions: Iterable[str]) -> RelayForm:
    common = sorted(set(own_versions) & set(receiver_versions), key=_version_key)
    if not common:
        return RelayForm(None, None, "no version in common with the receiver (TBS-ENV-034)")
    target = common[-1]
    try:
        # a TBS-1.0 record may hold members carried forward from TBS-1.1 (TBS-SYNC-015 (e)): E.1 drops them
        form = downgrade(dataset, record) if target == "TBS-1.0" else convert(dataset, record, received_version, target)
    except NotRepresentable as exc:
        return RelayForm(None, None, f"not representable in {target}: {exc.reason} at {exc.member} (Annex E.1)")
    if passes(dataset, form, target):
        return RelayForm(target, form, f"highest common version {target}")
    if _version_key(target) > _version_key(received_version) and received_version in common:
        # TBS-SYNC-015 (b): the upgraded form fails the newer version; the received form still travels
        return RelayForm(received_version, convert(dataset, record, received_version, received_version),
                         f"its {target} form fails {target}; sent in its received version {received_version}")
    return RelayForm(None, None, f"its {target} form fails {target}")
