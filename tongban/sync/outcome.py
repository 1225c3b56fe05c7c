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

    @property
    def verdict(self) -> str:
        """The ledger's verdict of a unit of work (an envelope, a page, a front-database batch)."""
        if self.received == 0:
            return "EMPTY"
        if self.rejected == 0:
            return "ACCEPTED"
        return "REJECTED" if self.rejected == self.received else "PARTIAL"
