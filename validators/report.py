"""The validation report of TBS-1.0 §19 (modelled on the EU ITB TAR report).

One report type serves envelope reports, per-record reports in acknowledgements and the
output of the stand-alone validator. Findings are records, not strings: each names exactly
one TBS requirement id (TBS-RPT-003), a JSON Pointer location rooted at the envelope
(TBS-RPT-004), a bilingual message and the offending value (TBS-RPT-006).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Iterable

RULE_ID_RE = re.compile(r"^TBS-(ENV|CODE|CAT|CASE|EVT|RES|EVAL|SYNC|SEC|REST|SOAP|FILE|MQTT)-[0-9]{3}$")
VALUE_MAX_CHARS = 200


class Severity(str, Enum):
    ERROR = "ERROR"
    WARNING = "WARNING"
    INFO = "INFO"


class Result(str, Enum):
    SUCCESS = "SUCCESS"
    WARNING = "WARNING"
    FAILURE = "FAILURE"


def render_value(value: Any) -> str:
    """TBS-RPT-006: strings verbatim, other values as JSON text, truncated to 200 characters."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return text[:VALUE_MAX_CHARS]


@dataclass(frozen=True, slots=True)
class Finding:
    severity: Severity
    rule_id: str
    location: str
    message_zh: str
    message_en: str
    value: str | None = None

    def __post_init__(self) -> None:
        if not RULE_ID_RE.match(self.rule_id):
            raise ValueError(f"not a TBS requirement id: {self.rule_id!r}")

    @property
    def identity(self) -> tuple[str, str, str]:
        """What TBS-RPT-010 compares: (severity, ruleId, location)."""
        return (self.severity.value, self.rule_id, self.location)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "severity": self.severity.value,
            "ruleId": self.rule_id,
            "location": self.location,
            "message": {"zh": self.message_zh, "en": self.message_en},
        }
        if self.value is not None:
            out["value"] = self.value
        return out

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> "Finding":
        return cls(
            severity=Severity(obj["severity"]),
            rule_id=obj["ruleId"],
            location=obj["location"],
            message_zh=obj["message"]["zh"],
            message_en=obj["message"]["en"],
            value=obj.get("value"),
        )


@dataclass(slots=True)
class Report:
    """An ordered list of findings with at most one item per (ruleId, location) (TBS-RPT-008)."""

    items: list[Finding] = field(default_factory=list)

    def add(self, finding: Finding) -> bool:
        """Add ``finding`` unless the same (ruleId, location) is already reported."""
        key = (finding.rule_id, finding.location)
        if any((f.rule_id, f.location) == key for f in self.items):
            return False
        self.items.append(finding)
        return True

    def extend(self, findings: Iterable[Finding]) -> None:
        for f in findings:
            self.add(f)

    def count(self, severity: Severity) -> int:
        items = self.items
        if not items:   # most records have no finding: no generator for them
            return 0
        return sum(1 for f in items if f.severity is severity)

    @property
    def errors(self) -> int:
        return self.count(Severity.ERROR)

    @property
    def result(self) -> Result:
        """TBS-RPT-002."""
        if self.errors:
            return Result.FAILURE
        if self.count(Severity.WARNING):
            return Result.WARNING
        return Result.SUCCESS

    @property
    def ok(self) -> bool:
        return self.errors == 0

    def equivalent(self, other: "Report") -> bool:
        """TBS-RPT-010: same result and the same multiset of (severity, ruleId, location)."""
        return self.result == other.result and sorted(f.identity for f in self.items) == sorted(
            f.identity for f in other.items
        )

    def to_json(self, **standalone: Any) -> dict[str, Any]:
        out: dict[str, Any] = {
            "result": self.result.value,
            "counters": {
                "errors": self.errors,
                "warnings": self.count(Severity.WARNING),
                "infos": self.count(Severity.INFO),
            },
            "items": [f.to_json() for f in self.items],
        }
        out.update({k: v for k, v in standalone.items() if v is not None})
        return out

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> "Report":
        return cls([Finding.from_json(i) for i in obj.get("items", [])])

    def render_text(self, title: str = "") -> str:
        lines = [f"{title}{': ' if title else ''}{self.result.value} "
                 f"(errors {self.errors}, warnings {self.count(Severity.WARNING)}, infos {self.count(Severity.INFO)})"]
        for f in self.items:
            value = f" value={f.value!r}" if f.value is not None else ""
            lines.append(f"  {f.severity.value:<7} {f.rule_id}  {f.location or '(envelope)'}{value}")
            lines.append(f"          {f.message_en} / {f.message_zh}")
        return "\n".join(lines)
