"""The dashboard page of ``tongban spec impact`` (``/impact.html`` of ``tongban serve``, or a file)."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Iterable, Mapping

from tongban import __version__
from tongban.monitoring.dashboard import _env


def render_impact_html(partners: Iterable[Any], *, target: str, base: str, since: str | None = None,
                       names: Mapping[str, str] | None = None, now: datetime | None = None) -> str:
    return _env.get_template("impact.html").render(
        partners=list(partners), target=target, base=base, since=since, names=dict(names or {}),
        now=(now or datetime.now(timezone.utc)).isoformat(timespec="seconds"), version=__version__)
