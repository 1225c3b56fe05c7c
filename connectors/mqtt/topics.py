"""Topic names of the MQTT binding (TBS-MQTT-002, -007) and its payload limit (TBS-SEC-009)."""
from __future__ import annotations

from tongban.model.codes import REGION_CODE_RE, parse_system_id
from tongban.model.datasets import DATASETS

__all__ = ["envelope_topic", "ack_topic", "dataset_filter", "parse_topic", "region_of", "system_code_of",
           "MAX_PAYLOAD_BYTES", "TOPIC_ROOT"]

TOPIC_ROOT = "tbs/v1"
ACK_LEAF = "ack"
MAX_PAYLOAD_BYTES = 1_048_576  # TBS-MQTT-004 / TBS-SEC-009


def envelope_topic(region_code: str, dataset: str) -> str:
    """``tbs/v1/{regionCode}/{dataset}``: the sender's region (TBS-MQTT-002)."""
    if not REGION_CODE_RE.match(region_code) or dataset not in DATASETS:
        raise ValueError(f"no envelope topic for region {region_code!r}, dataset {dataset!r}")
    return f"{TOPIC_ROOT}/{region_code}/{dataset}"


def ack_topic(region_code: str) -> str:
    """``tbs/v1/{regionCode}/ack``: the acknowledging system's region (TBS-MQTT-007)."""
    if not REGION_CODE_RE.match(region_code):
        raise ValueError(f"not a region code: {region_code!r}")
    return f"{TOPIC_ROOT}/{region_code}/{ACK_LEAF}"


def dataset_filter(dataset: str) -> str:
    """What a consumer subscribes to: one dataset from every region."""
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}")
    return f"{TOPIC_ROOT}/+/{dataset}"


def parse_topic(topic: str) -> tuple[str, str] | None:
    """``(regionCode, leaf)`` of a TBS topic, where leaf is a dataset or ``ack``."""
    parts = topic.split("/")
    if len(parts) != 4 or "/".join(parts[:2]) != TOPIC_ROOT:
        return None
    return parts[2], parts[3]


def region_of(system_id: str) -> str:
    parts = parse_system_id(system_id)
    if parts is None:
        raise ValueError(f"not a system identifier: {system_id!r}")
    return parts[1]


def system_code_of(system_id: str) -> str:
    """The MQTT client identifier of a system (TBS-SEC-001)."""
    parts = parse_system_id(system_id)
    if parts is None:
        raise ValueError(f"not a system identifier: {system_id!r}")
    return parts[2]
