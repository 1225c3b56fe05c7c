"""Shared by the file-drop tests: identities, a record factory and a recording service."""
from __future__ import annotations

from typing import Any

from tongban.connectors.base import ServiceError
from tongban.connectors.filedrop.signing import verify_hmac_sha256
from tongban.model.canonical import records_sha256

SENDER = "TB:county:440103:LWZWFW"
RECEIVER = "TB:province:440000:GDZWFW"
KEY_ID = "k2025-01"
KEY = bytes(range(32))  # 256 bits (TBS-SEC-008)


def case_event(seq: int, case_no: str = "A1B2C3") -> dict[str, Any]:
    return {"caseNo": case_no, "seq": seq, "eventType": "ACCEPT", "occurredAt": "2025-03-01T09:00:00+08:00",
            "handler": {"name": "窗口一", "org": "天河区政务服务中心"}}


def ack_for(envelope: dict[str, Any], request_hash: str, findings: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    n = len(envelope["records"])
    failed = bool(findings)
    return {
        "specVersion": "TBS-1.0", "requestMessageId": envelope["messageId"], "requestHash": request_hash,
        "sender": RECEIVER, "receiver": envelope["sender"], "receivedAt": "2025-03-01T09:00:01+08:00",
        "status": "REJECTED" if failed else "ACCEPTED", "final": True,
        "envelopeReport": {"result": "FAILURE" if failed else "SUCCESS",
                           "counters": {"errors": len(findings or []), "warnings": 0, "infos": 0},
                           "items": findings or []},
        "counts": {"received": n, "stored": 0 if failed else n, "duplicate": 0, "stale": 0, "held": 0,
                   "rejected": n if failed else 0},
        "accepted": 0 if failed else n, "rejected": [], "notes": [],
    }


class RecordingService:
    """The local side of the binding: records every call, checks integrity and signature
    (as the real service does, TBS-ENV-027/-028) and answers with an acknowledgement."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.fail_with: ServiceError | None = None

    def meta(self) -> dict[str, Any]:
        return {}

    def changes(self, dataset: str, since: str | None, limit: int) -> dict[str, Any]:
        raise ServiceError(404, "NOT_FOUND", "no feed")

    def get_ack(self, message_id: str, caller: str) -> dict[str, Any] | None:
        return None

    def receive(self, envelope: dict[str, Any], *, binding: str, request_hash: str,
                authenticated_sender: str | None, binding_dataset: str | None = None,
                topic_region: str | None = None, binding_findings: Any = (), received: Any = None) -> dict[str, Any]:
        if self.fail_with is not None:
            raise self.fail_with
        self.calls.append({"envelope": envelope, "binding": binding, "request_hash": request_hash,
                           "authenticated_sender": authenticated_sender, "binding_dataset": binding_dataset,
                           "binding_findings": tuple(binding_findings)})
        findings = []
        if envelope["integrity"]["recordsSha256"] != records_sha256(envelope["records"]):
            findings.append({"severity": "ERROR", "ruleId": "TBS-ENV-027", "location": "/integrity/recordsSha256",
                             "message": {"zh": "摘要不符", "en": "digest mismatch"}})
        if not verify_hmac_sha256(envelope, KEY):
            findings.append({"severity": "ERROR", "ruleId": "TBS-ENV-028", "location": "/integrity/signature",
                             "message": {"zh": "签名无效", "en": "bad signature"}})
        return ack_for(envelope, request_hash, findings)

