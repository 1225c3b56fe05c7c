"""What a validation may know besides the payload (TBS-RPT-009).

Stateless validation is a pure function of the envelope, the allowlist and any supplied key
or binding context; everything it may use is in :class:`ValidationContext`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Mapping

# TBS-CODE-015: the reference allowlist of TBS-1.0, used by conformance testing.
REFERENCE_ALLOWLIST: frozenset[str] = frozenset({"91350211M0000XUF46", "91350203M0001QAY9B"})

BINDINGS = ("REST", "SOAP", "FILE", "MQTT")


@dataclass(frozen=True)
class ValidationContext:
    spec: str = "TBS-1.0"
    allowlist: frozenset[str] = REFERENCE_ALLOWLIST
    # (sender, keyId) -> (alg, key): the partner keys TBS-ENV-028 verifies with. A sender with
    # no entry at all is not verified (stateless mode evaluates TBS-ENV-028 only with a key).
    keys: Mapping[tuple[str, str], tuple[str, bytes]] = field(default_factory=dict)
    binding: str | None = None          # "REST" | "SOAP" | "FILE" | "MQTT" when known
    binding_dataset: str | None = None  # dataset implied by the REST path / SOAP element / drop dir / topic
    topic_region: str | None = None     # MQTT topic region (TBS-MQTT-002)
    received_at: datetime | None = None  # T_ref: the TBS-ENV-011 limit of pulled records
    # TBS-SEC-007 is outside stateless mode (TBS-RPT-009); a receiver that knows the partner
    # profile (always for FILE and MQTT) sets this to have it evaluated.
    require_signature: bool = False
    # The versions the validating system supports (TBS-ENV-021, TBS-RPT-009): each envelope is
    # validated under the version its specVersion names when it is one of them (TBS-ENV-029),
    # otherwise under the highest of them, whose TBS-ENV-021 then rejects it. Empty: only ``spec``.
    spec_versions: tuple[str, ...] = ()

    @property
    def supported_versions(self) -> tuple[str, ...]:
        return self.spec_versions or (self.spec,)

    def __post_init__(self) -> None:
        if self.binding is not None and self.binding not in BINDINGS:
            raise ValueError(f"binding must be one of {BINDINGS}, not {self.binding!r}")
