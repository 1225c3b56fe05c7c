"""The one Python entry point that runs a certification session: used by the CLI
(``tongban conformance run``), the ``onboard_partner`` DAG and the tests alike.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from tongban.connectors.base import ConnectorError, TransportError

from .certificate import Outputs, build_certificate, build_report, write_outputs
from .results import Result
from .session import Session, SessionConfig
from .suite import SuiteRun, TestRun, run_suite

EXIT_CONFORMANT = 0
EXIT_NOT_CONFORMANT = 1
EXIT_COULD_NOT_RUN = 2


class CannotRun(Exception):
    """The session could not run at all (unreachable SUT, unusable arguments): exit 2."""


@dataclass
class Certification:
    run: SuiteRun
    report: dict
    certificate: dict
    outputs: Outputs | None = None   # the files, when an output folder was given

    @property
    def exit_code(self) -> int:
        if self.run.harness_failed:
            return EXIT_COULD_NOT_RUN
        return EXIT_CONFORMANT if self.run.conformant else EXIT_NOT_CONFORMANT


def check_reachable(session: Session) -> None:
    """Raise :class:`CannotRun` when a REST/SOAP SUT cannot be reached at all (connection, TLS)."""
    cfg = session.config
    if cfg.binding in ("REST", "SOAP"):
        try:
            session.connector().meta()
        except TransportError as exc:
            raise CannotRun(f"the SUT at {cfg.endpoint} is unreachable over {cfg.binding}: {exc}") from exc
        except ConnectorError:
            pass  # reachable; what it answered is for the tests to judge
    elif cfg.binding == "FILE":
        root = Path(cfg.endpoint)
        if not root.is_dir():
            raise CannotRun(f"the drop root {root} is not a directory")


def certify(config: SessionConfig, out_dir: Path | None, *, only: set[str] | None = None,
            progress: Callable[[TestRun], None] | None = None, signing_key: Any = None,
            delta_from: Path | None = None, today: Any = None) -> Certification:
    """Run the suite against the SUT described by ``config`` and write the outputs to ``out_dir``.

    ``delta_from``: the earlier TBS-1.0 certificate (``certificate.json``; a ``report.json`` beside
    it is checked too) of a delta session (TBS-CONF-010); it must be signed with ``signing_key``'s
    public key, the issuer's. ``today`` (a date) fixes the day its age is judged on."""
    delta = None
    if delta_from is not None:
        delta = _plan_delta(config, delta_from, signing_key, today)
        if only:
            raise CannotRun("a delta session is a complete session: --only cannot be combined with --delta-from")
    session = Session(config)
    try:
        check_reachable(session)
        run = run_suite(session, only=only, progress=progress, delta=delta)
        if out_dir is not None:
            outputs = write_outputs(run, out_dir, signing_key)
            return Certification(run, outputs.report, outputs.certificate, outputs)
        report = build_report(run)
        return Certification(run, report, build_certificate(run, report, signing_key=signing_key))
    finally:
        session.close()


def _plan_delta(config: SessionConfig, path: Path, signing_key: Any, today: Any) -> Any:
    from .delta import BaseCertificateError, check_base_certificate, load_base_certificate, plan_delta_session

    if config.spec_version == "TBS-1.0":
        raise CannotRun("--delta-from certifies TBS-1.1 on a TBS-1.0 certificate: give --spec TBS-1.1")
    try:
        certificate, report = load_base_certificate(path)
        trusted = signing_key.public_key() if signing_key is not None else None
        check_base_certificate(certificate, system_id=config.system_id, trusted_key=trusted, report=report,
                               where=f"--delta-from {path}")
    except BaseCertificateError as exc:
        raise CannotRun(str(exc)) from exc
    return plan_delta_session(certificate, config.roles, config.binding, today=today, spec=config.spec_version)


__all__ = ["CannotRun", "Certification", "EXIT_CONFORMANT", "EXIT_COULD_NOT_RUN", "EXIT_NOT_CONFORMANT", "Result",
           "certify", "check_reachable"]
