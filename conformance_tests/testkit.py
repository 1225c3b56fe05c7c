"""The shape of one conformance test (TBS-1.0 §20.2): a small class per catalogue row.

Each test names its catalogue id, the requirement ids it verifies, its level, the roles and
bindings it applies to and, in plain words, what it does; ``run(session)`` returns a
:class:`~tongban.conformance.results.TestResult`. ``not_applicable(session)`` says why a test
whose role and binding apply is still OMIT (e.g. "applies if the SUT pushes"); it is the only
way to OMIT, so OMIT always means the applicability condition is false (TBS-CONF-003).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from .results import KitFinding, Level, TestResult

if TYPE_CHECKING:
    from .session import Session

ALL_BINDINGS: tuple[str, ...] = ("REST", "SOAP", "FILE", "MQTT")
EVERY_ROLE = "*"


class ConformanceTest:
    """Base class of the catalogue's tests; subclasses set the class attributes and ``run``."""

    test_id: ClassVar[str]
    requirement_ids: ClassVar[tuple[str, ...]]
    #: requirement ids that apply only on one binding (the **[b]** marks of §20.2)
    binding_requirements: ClassVar[dict[str, tuple[str, ...]]] = {}
    level: ClassVar[Level] = Level.SHALL
    roles: ClassVar[tuple[str, ...]] = (EVERY_ROLE,)
    bindings: ClassVar[tuple[str, ...]] = ALL_BINDINGS
    description: ClassVar[str] = ""

    def applies_to_role(self, role: str) -> bool:
        return EVERY_ROLE in self.roles or role in self.roles

    def requirements_for(self, binding: str) -> list[str]:
        return list(self.requirement_ids) + list(self.binding_requirements.get(binding, ()))

    def not_applicable(self, session: "Session") -> str | None:
        """Why the test does not apply although role and binding do; None when it applies."""
        return None

    def run(self, session: "Session") -> TestResult:  # pragma: no cover - abstract
        raise NotImplementedError

    # helpers for subclasses -------------------------------------------------------------
    @staticmethod
    def fail(requirement_id: str, en: str, zh: str, **where: object) -> KitFinding:
        return KitFinding(requirement_id, en, zh, where=dict(where))

    def __repr__(self) -> str:
        return f"<{self.test_id} {type(self).__name__}>"
