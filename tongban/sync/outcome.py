"""Outcome counts of a sync run, a page or an envelope (TBS-1.0 §13.2)."""
from __future__ import annotations

from dataclasses import asdict, dataclass

from tongban.validators.stateful import Outcome


_FIELD = {o: o.value.lower() for o in Outcome}


@dataclass
class OutcomeCounts:
    stored: int = 0
    duplicate: int = 0
    stale: int = 0
    held: int = 0
    rejected: int = 0
    released: int = 0  # held records stored later in the same unit of work
    expired: int = 0  # held records rejected because their hold timed out

    def add(self, outcome: Outcome, n: int = 1) -> None:
        name = _FIELD[outcome]
        setattr(self, name, getattr(self, name) + n)

    def merge(self, other: "OutcomeCounts") -> None:
        for k, v in asdict(other).items():
            setattr(self, k, getattr(self, k) + v)

    @property
    def received(self) -> int:
        return self.stored + self.duplicate + self.stale + self.held + self.rejected

    def as_dict(self) -> dict[str, int]:
        return asdict(self)
