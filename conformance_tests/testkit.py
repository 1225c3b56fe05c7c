"""The shape of one conformance test (TBS-1.0 §20.2): a small class per catalogue row.

Each test names its catalogue id, the requirement ids it verifies, its level, the roles and
bindings it applies to and, in plain words, what it does; ``run(session)`` returns a
:class:`~tongban.conformance.results.TestResult`. A test that works differently when the suite
reads the SUT's feeds and when the SUT pushes to the suite implements :meth:`~ConformanceTest.pulled`
and :meth:`~ConformanceTest.pushed`; which one runs follows from the binding's declaration in
:data:`COLLECTED`, not from a test's own conditions. ``not_applicable(session)`` says why a test
whose role and binding apply is still OMIT (e.g. "applies if the SUT pushes"); it is the only
way to OMIT, so OMIT always means the applicability condition is false (TBS-CONF-003).
"""
from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING, ClassVar

from .results import KitFinding, Level, TestResult

if TYPE_CHECKING:
    from .session import Session

class Collected(Enum):
    """How the suite collects what the SUT sends over a binding."""

    PULLED = "PULLED"  # the suite is the SUT's client: it reads the feeds, it pushes to a consumer
    PUSHED = "PUSHED"  # the SUT pushes to the suite, which receives like the bus would


#: one declaration per binding (§20.2: REST and SOAP providers are pull-only; FILE and MQTT push)
COLLECTED: dict[str, Collected] = {"REST": Collected.PULLED, "SOAP": Collected.PULLED,
                                   "FILE": Collected.PUSHED, "MQTT": Collected.PUSHED}
ALL_BINDINGS: tuple[str, ...] = tuple(COLLECTED)
PULL: tuple[str, ...] = tuple(b for b, c in COLLECTED.items() if c is Collected.PULLED)
PUSH: tuple[str, ...] = tuple(b for b, c in COLLECTED.items() if c is Collected.PUSHED)
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
    #: why the test does not apply to a SUT that claims no provider role (None: it does apply)
    without_provider_role: ClassVar[str | None] = None

    def applies_to_role(self, role: str) -> bool:
        return EVERY_ROLE in self.roles or role in self.roles

    def requirements_for(self, binding: str) -> list[str]:
        return list(self.requirement_ids) + list(self.binding_requirements.get(binding, ()))

    def not_applicable(self, session: "Session") -> str | None:
        """Why the test does not apply although role and binding do; None when it applies."""
        if self.without_provider_role is not None and not session.provided_datasets():
            return self.without_provider_role
        return None

    def run(self, session: "Session") -> TestResult:
        """The test as the session's binding is collected (:data:`COLLECTED`); a test that runs
        the same way on every binding overrides ``run`` itself."""
        return {Collected.PULLED: self.pulled, Collected.PUSHED: self.pushed}[session.collected](session)

    def pulled(self, session: "Session") -> TestResult:  # pragma: no cover - abstract
        raise NotImplementedError(f"{self.test_id} has no run for a binding the suite pulls from")

    def pushed(self, session: "Session") -> TestResult:  # pragma: no cover - abstract
        raise NotImplementedError(f"{self.test_id} has no run for a binding the SUT pushes over")

    # helpers for subclasses -------------------------------------------------------------
    @staticmethod
    def fail(requirement_id: str, en: str, zh: str, **where: object) -> KitFinding:
        return KitFinding(requirement_id, en, zh, where=dict(where))

    def __repr__(self) -> str:
        return f"<{self.test_id} {type(self).__name__}>"
