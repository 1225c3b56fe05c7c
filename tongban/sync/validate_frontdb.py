"""``tongban validate``: the stateless validator's command, plus ``--profile`` for a front
database (TBS-LP-1.0): its committed batches are read, checked, mapped and validated by
TBS-1.0 against a throw-away store, and the outcome of every row is reported — the receipts
the bus would write, without writing them (the front database is only read).

It lives here, not in the validators, because a front database is validated statefully
(TBS-LP-002: S1–S5 with holds and duplicates) through the sync pipeline.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from types import SimpleNamespace

import click

from tongban.validators.cli import validate_command as _stateless

PROFILES = ("NATIONAL-EXCHANGE", "EA-JC-STEP")


def _front_url(target: str, tmp: Path) -> str:
    """A SQLAlchemy URL as it is; a dump (``.sql``) loaded into a temporary SQLite database."""
    if "://" in target:
        return target
    path = Path(target)
    if not path.is_file():
        raise click.UsageError(f"{target}: neither a database URL nor a readable SQL dump")
    return f"sqlite:///{tmp / 'front.db'}"


def validate_front(target: str, profile: str, system: str, roles: tuple[str, ...], dialect: str | None,
                   fmt: str) -> int:
    from tongban.connectors.frontdb.database import FrontDatabase
    from tongban.connectors.frontdb.profile import ConfigurationError, load_profile, split_sql
    from tongban.registry import PartnerConfig

    prof = load_profile(profile)
    if not roles:
        roles = tuple(sorted({r for t in prof.tables.values() for r in t.roles}
                             | ({"RESULT_PUBLISHER"} if profile else set())))
    with tempfile.TemporaryDirectory() as tmp:
        url = _front_url(target, Path(tmp))
        try:
            partner = PartnerConfig(id=system, transport="frontdb", database_url_env="TONGBAN_VALIDATE_FRONTDB",
                                    profile=f"{profile} 1.0", roles=list(roles), evaluation_dialect=dialect)
        except Exception as exc:
            raise click.UsageError(str(exc)) from None
        db = FrontDatabase(url, prof, prof.tables_for(set(roles)))
        if "://" not in target:  # a dump: the schema, then its statements
            db.create_schema()
            with db.engine.begin() as conn:
                for stmt in split_sql(Path(target).read_text(encoding="utf-8")):
                    if not stmt.upper().startswith("CREATE"):
                        conn.exec_driver_sql(stmt)
        try:
            receipts, _ = dry_run(db, partner)
        except ConfigurationError as exc:
            click.echo(f"Error: {exc}", err=True)
            return 2
        finally:
            db.close()
    rows = [SimpleNamespace(**r) for r in receipts]
    rejected = 0
    for r in rows:
        rejected += r.outcome == "REJECTED"
        if fmt == "json":
            click.echo(json.dumps({"table": r.table_name, "rowGuid": r.row_guid, "rowCdTime": r.row_cd_time,
                                   "cdBatch": r.cd_batch, "outcome": r.outcome, "ruleIds": r.rule_ids,
                                   "findings": json.loads(r.findings)}, ensure_ascii=False))
        else:
            click.echo(f"{r.cd_batch}  {r.table_name}  {r.row_guid}  {r.outcome:<9} {r.message}")
    if fmt != "json":
        click.echo(f"{len(rows)} rows, {rejected} REJECTED")
    return 1 if rejected else 0


def dry_run(db, partner) -> tuple[list[dict], dict[str, list[str]]]:
    """Read every committed batch of the front database ``db`` for ``partner`` against a
    throw-away store, writing nothing to ``db``: the receipts the bus would write (in
    (cd_batch, table, row_guid) order) and the records it would store (RFC 8785 lines per
    dataset). The conformance kit's reference reader for FRONTDB writers (LP-24, LP-25)."""
    from sqlalchemy import select

    from tongban.model.datasets import DATASETS
    from tongban.store import Store
    from tongban.store.schema import FrontdbReceipt
    from tongban.sync.export import export_current
    from tongban.sync.frontdb import FrontdbSync

    with tempfile.TemporaryDirectory() as tmp:
        store = Store(f"sqlite:///{Path(tmp) / 'store.db'}")
        store.upgrade()
        try:
            FrontdbSync(store, None, partner, front=db, write_receipts=False).poll()
            with store.reading() as s:
                receipts = [{c: getattr(r, c) for c in ("table_name", "row_guid", "row_cd_time", "cd_batch", "outcome",
                                                        "rule_ids", "message", "findings")}
                            for r in s.execute(select(FrontdbReceipt).order_by(
                                FrontdbReceipt.cd_batch, FrontdbReceipt.table_name, FrontdbReceipt.row_guid)).scalars()]
            records = {d: list(export_current(store, d)) for d in DATASETS}
        finally:
            store.dispose()
    return receipts, records


def _wrap(command: click.Command) -> click.Command:
    params = [p for p in command.params if p.name != "paths"] + [
        click.Option(["--profile"], type=click.Choice(PROFILES),
                     help="Validate a front database (TBS-LP-1.0): PATHS is its SQLAlchemy URL or an SQL dump; "
                          "every row's outcome is reported as its receipt, nothing is written."),
        click.Option(["--system"], default="TB:county:440103:LWZWFW", show_default=True,
                     help="with --profile: the partner's system id (its region scopes the records, TBS-SEC-003)"),
        click.Option(["--role", "roles"], multiple=True, help="with --profile: a claimed role (default: all)"),
        click.Option(["--dialect"], type=click.Choice(["HCP-NATIONAL", "HCP-ALT", "GB39046"]),
                     help="with --profile: the evaluation dialect (TBS-LP-160); required for EVALUATION_REPORTER"),
        click.Argument(["paths"], nargs=-1, required=True),
    ]

    def callback(profile: str | None, system: str, roles: tuple[str, ...], dialect: str | None, **kw):
        if profile is None:
            return command.callback(**kw)
        if len(kw["paths"]) != 1:
            raise click.UsageError("--profile takes one front database URL or dump")
        target = os.path.expandvars(kw["paths"][0])
        click.get_current_context().exit(validate_front(target, profile, system, roles, dialect, kw["fmt"]))

    return click.Command(command.name, params=params, callback=callback, help=command.help,
                         context_settings=command.context_settings)


validate_command = _wrap(_stateless)
