"""CLI for one-off work without Airflow: the same code the DAG tasks call."""
from __future__ import annotations

import json

import click
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn
from rich.markup import escape
from rich.table import Table
from sqlalchemy import select

from tongban.console import fail, out
from tongban.model.datasets import DATASETS
from tongban.registry import RegistryError, load_registry
from tongban.registry_cli import partners_option
from tongban.store.cli import open_store


@click.command("sync")
@partners_option
@click.option("--partner", "partner_id", required=True, help="partner system id (or its code)")
@click.option("--dataset", type=click.Choice(DATASETS), required=True)
@click.option("--since", default=None, help="start from this cursor instead of the committed one")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
def sync_command(partners_file: str | None, partner_id: str, dataset: str, since: str | None, fmt: str) -> None:
    """Run one incremental sync and print its outcome counts."""
    from tongban.sync.engine import SyncEngine, SyncFailed

    try:
        reg = load_registry(partners_file)
        partner = reg.get(partner_id)
    except (RegistryError, KeyError) as exc:
        fail(str(exc).strip("'\""))
    from tongban.conformance.admission import is_admitted
    from tongban.sync.engine import NotAdmitted

    engine = SyncEngine(open_store(), reg, trigger="cli", admission=is_admitted)
    try:
        with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[n]}"),
                      console=out, transient=True, disable=fmt == "json") as progress:
            task = progress.add_task(f"{partner.id} {dataset}", total=None, n="")
            report = engine.sync(partner.id, dataset, since=since,
                                 on_page=lambda r: progress.update(task, n=f"{r.pulled} pulled, {r.pages} pages"))
    except SyncFailed as exc:
        if fmt == "json":
            click.echo(json.dumps(exc.report.as_dict(), ensure_ascii=False))
        else:
            out.print(f"[red]FAILED[/] {escape(str(exc))}")
        raise SystemExit(1)
    except NotAdmitted as exc:
        fail(str(exc), code=1)
    except ValueError as exc:
        fail(str(exc))
    if fmt == "json":
        click.echo(json.dumps(report.as_dict(), ensure_ascii=False))
        return
    c = report.counts
    out.print(f"{partner.id} {dataset}: pulled {report.pulled} in {report.pages} pages, "
              f"{report.duration_s:.2f}s; cursor {report.cursor_before or '(start)'} → {report.cursor_after or '(start)'}")
    out.print(f"  STORED {c.stored + c.released}  DUPLICATE {c.duplicate}  STALE {c.stale}  HELD {c.held}  "
              f"REJECTED {c.rejected}")
    if report.stopped_by:
        out.print(f"  stopped at the run bound {report.stopped_by} (partners.yaml); the next run continues from "
                  f"the committed cursor")


@click.group()
def ledger() -> None:
    """The hash-chained exchange ledger."""


@ledger.command("verify")
def ledger_verify() -> None:
    """Recompute the hash chain; name the first entry that does not hold."""
    from tongban.sync.ledger import verify

    result = verify(open_store())
    if result.ok:
        out.print(f"[green]ledger ok[/]: {result.entries} entries, chain intact")
        return
    out.print(f"[red]ledger broken[/] at entry {result.first_bad_seq}: {result.problem}")
    raise SystemExit(1)


@ledger.command("list")
@click.option("--limit", default=20, show_default=True)
def ledger_list(limit: int) -> None:
    """Show the newest ledger entries."""
    from tongban.store.schema import LedgerEntry

    with open_store().reading() as s:
        rows = s.execute(select(LedgerEntry).order_by(LedgerEntry.seq.desc()).limit(limit)).scalars().all()
    table = Table()
    for col in ("seq", "at", "dir", "sender", "receiver", "dataset", "records", "verdict", "sha256"):
        table.add_column(col)
    for e in reversed(rows):
        table.add_row(str(e.seq), e.recorded_at[:19], e.direction, e.sender, e.receiver, e.dataset,
                      str(e.record_count), e.verdict, e.envelope_sha256[:16] + "…")
    out.print(table)


@click.group()
def quarantine() -> None:
    """Records rejected with their findings, kept verbatim."""


@quarantine.command("list")
@click.option("--partner", "partner_id", default=None)
@click.option("--dataset", type=click.Choice(DATASETS), default=None)
@click.option("--status", default="OPEN", show_default=True)
def quarantine_list(partner_id: str | None, dataset: str | None, status: str) -> None:
    from tongban.store.schema import QuarantineEntry as Q

    query = select(Q).where(Q.status == status).order_by(Q.id)
    if partner_id:
        query = query.where(Q.partner_id == partner_id)
    if dataset:
        query = query.where(Q.dataset == dataset)
    with open_store().reading() as s:
        rows = s.execute(query).scalars().all()
    table = Table(title=f"quarantine ({status}): {len(rows)}")
    for col in ("id", "partner", "dataset", "key", "rules", "first location"):
        table.add_column(col)
    for q in rows:
        table.add_row(str(q.id), q.partner_id, q.dataset, q.record_key or "—", q.rule_ids, q.location or "")
    out.print(table)


@quarantine.command("show")
@click.argument("entry_id", type=int)
def quarantine_show(entry_id: int) -> None:
    from tongban.store.schema import QuarantineEntry as Q
    from tongban.validators.report import Report

    with open_store().reading() as s:
        q = s.get(Q, entry_id)
    if q is None:
        fail(f"no quarantine entry {entry_id}")
    out.print(f"entry {q.id}: {q.partner_id} {q.dataset} key {q.record_key} ({q.status})")
    out.print(Report.from_json(json.loads(q.report)).render_text("findings"), markup=False)
    out.print("record as received:")
    out.print(q.raw, markup=False)


@quarantine.command("replay")
@partners_option
@click.argument("entry_ids", type=int, nargs=-1)
@click.option("--partner", "partner_id", default=None)
@click.option("--dataset", type=click.Choice(DATASETS), default=None)
def quarantine_replay(partners_file: str | None, entry_ids: tuple[int, ...], partner_id: str | None,
                      dataset: str | None) -> None:
    """Validate quarantined records again; store and release those that now pass."""
    from tongban.sync.replay import replay

    try:
        reg = load_registry(partners_file)
    except RegistryError as exc:
        fail(str(exc))
    result = replay(open_store(), reg, ids=list(entry_ids) or None, partner_id=partner_id, dataset=dataset)
    out.print(f"released {len(result.released)}, still rejected {len(result.still_rejected)}, "
              f"skipped {len(result.skipped)}")
    for label, ids in (("released", result.released), ("still rejected", result.still_rejected),
                       ("skipped (unknown partner or unreadable)", result.skipped)):
        if ids:
            out.print(f"  {label}: {', '.join(map(str, ids))}")


@click.group()
def case() -> None:
    """Case (办件) tracking."""


@case.command("show")
@click.argument("case_no")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
def case_show(case_no: str, fmt: str) -> None:
    """Print a case's timeline: step, handler, opinion, times (like an order-tracking page)."""
    from tongban.store.records import RecordStore
    from tongban.validators.stateful import case_state

    with open_store().reading() as s:
        rs = RecordStore(s)
        record = rs.case(case_no)
        events = rs.case_events(case_no)
    if record is None and not events:
        fail(f"no case {case_no} in the store", code=1)
    state = case_state(events)
    if fmt == "json":
        click.echo(json.dumps({"case": record, "state": state.state, "conclusion": state.conclusion,
                               "events": events}, ensure_ascii=False, indent=2))
        return
    if record:
        out.print(f"[bold]{case_no}[/]  {record['itemName']}  ({record['regionCode']})")
        out.print(f"  applicant {record['applicant']['name']}  submitted {record['submittedAt']}"
                  f"  promised by {record.get('promisedBy', '—')}")
    out.print(f"  state: [bold]{state.state or '—'}[/]" + (f" ({state.conclusion})" if state.conclusion else ""))
    table = Table()
    for col in ("seq", "time", "type", "step", "handler", "opinion"):
        table.add_column(col)
    for e in events:
        handler = e.get("handler", {}).get("name", "") if isinstance(e.get("handler"), dict) else ""
        detail = e.get("opinion", "") or e.get("conclusionCode", "") or e.get("action", "")
        table.add_row(str(e["seq"]), e["occurredAt"], e["type"], e["stepName"], handler, detail)
    out.print(table)


@click.command("export")
@click.option("--dataset", type=click.Choice(DATASETS), required=True)
@click.option("--format", "fmt", type=click.Choice(["jsonl"]), default="jsonl")
def export_command(dataset: str, fmt: str) -> None:
    """Print the stored current records in canonical form (JCS), one per line, in business-key order."""
    from tongban.sync.export import export_current

    for line in export_current(open_store(), dataset):
        click.echo(line)
