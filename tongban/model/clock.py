"""China Standard Time (UTC+8), the one offset TBS business timestamps are written with.

TBS-ENV-007/010: instants are RFC 3339 and SHOULD carry ``+08:00``; every module that needs the
zone (day boundaries, stamps, file names) takes it from here.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

CST = timezone(timedelta(hours=8))
"""UTC+8 (北京时间)."""
CST_ZONE_NAME = "Asia/Shanghai"
"""The same zone by its IANA name, for schedulers that want a named zone (Airflow's start dates)."""


def stamp(t: datetime) -> str:
    """RFC 3339 with the +08:00 offset (TBS-ENV-007, TBS-ENV-010)."""
    return t.astimezone(CST).strftime("%Y-%m-%dT%H:%M:%S+08:00")


def parse_stamp(value: str) -> datetime:
    """An RFC 3339 instant as an aware datetime."""
    return datetime.fromisoformat(value)
