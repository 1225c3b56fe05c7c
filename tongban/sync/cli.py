"""CLI for one-off work without Airflow: the same code the DAG tasks call."""
from __future__ import annotations

import json
import os

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
@click.option("--partner", "partner_id", default=None, help="partner system id (or its code)")
@click.option("--dataset", type=click.Choice(DATASETS), default=None)
@click.option("--all", "all_partners", is_flag=True,
              help="every partner and every dataset it provides, prerequisites first within a partner")
@click.option("--workers", type=click.IntRange(1, 64), default=4, show_default=True,
              help="with --all: partners synced at once")
@click.option("--since", default=None, help="start from this cursor instead of the committed one")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
def sync_command(partners_file: str | None, partner_id: str | None, dataset: str | None, all_partners: bool,
                 workers: int, since: str | None, fmt: str) -> None:
    """Run one incremental sync and print its outcome counts (--all: one cycle over every partner)."""
    from tongban.sync.engine import SyncEngine, SyncFailed

    if all_partners:
        if partner_id or dataset or since:
            fail("--all syncs every partner and dataset from its committed cursor: leave out --partner, "
                 "--dataset and --since")
        return _sync_all(partners_file, workers, fmt)
    if not partner_id or not dataset:
        fail("give --partner and --dataset, or --all")

    try:
        reg = load_registry(partners_file)
        partner = reg.get(partner_id)
    except (RegistryError, KeyError) as exc:
        fail(str(exc).strip("'\""))
    from tongban.conformance.admission import is_admitted
    from tongban.store.locks import AlreadyRunning
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
    except AlreadyRunning as exc:
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


def _sync_all(partners_file: str | None, workers: int, fmt: str) -> None:
    from tongban.conformance.admission import is_admitted
    from tongban.sync.cycle import run_cycle

    try:
        reg = load_registry(partners_file)
    except RegistryError as exc:
        fail(str(exc))
    store = open_store()
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[n]}"),
                  console=out, transient=True, disable=fmt == "json") as progress:
        task = progress.add_task(f"{len(reg.partners)} partners, {workers} workers", total=len(reg.partners), n="")
        report = run_cycle(store, reg, workers=workers, admission=is_admitted,
                           on_done=lambda o: progress.update(task, advance=1, n=o.partner_id))
    if fmt == "json":
        click.echo(json.dumps(report.as_dict(), ensure_ascii=False))
    else:
        t = report.totals()
        out.print(f"{t['partners']} partners, {t['runs']} runs with {workers} workers in {report.duration_s:.2f}s: "
                  f"pulled {t['pulled']}")
        out.print(f"  STORED {t['stored']}  DUPLICATE {t['duplicate']}  STALE {t['stale']}  HELD {t['held']}  "
                  f"REJECTED {t['rejected']}  skipped {t['skipped']}  failed {t['failed']}")
        for p in report.partners:
            for ds, error in p.failed:
                out.print(f"  [red]FAILED[/] {escape(p.partner_id)} {ds}: {escape(error)}")
            for ds, why in p.skipped:
                out.print(f"  skipped {escape(p.partner_id)} {ds}: {escape(why)}")
    if report.failed:
        raise SystemExit(1)


@click.group()
def ledger() -> None:
    """The hash-chained exchange ledger."""


@ledger.command("verify")
@click.option("--chain-only", is_flag=True, help="check only the hash chain, not the stored records against it")
@click.option("--anchors", "anchor_file", type=click.Path(dir_okay=False), default=None,
              help="anchor file to check (default: bus.ledger_anchor_file of the registry)")
def ledger_verify(chain_only: bool, anchor_file: str | None) -> None:
    """Recompute the hash chain, check the authenticated head, the anchors and every stored record."""
    from tongban.sync.ledger import verify

    store = open_store()
    try:
        bus = load_registry().bus
        anchor_file = anchor_file or bus.ledger_anchor_file
        if bus.ledger_key_env and not bus.ledger_key():
            fail(f"the registry names the ledger key {bus.ledger_key_env}, which is not set")
    except RegistryError:
        pass
    if anchor_file and not os.path.exists(anchor_file):
        anchor_file = None
    result = verify(store, key=store.ledger_key, records=not chain_only, anchors=anchor_file)
    if result.ok:
        out.print(f"[green]ledger ok[/]: {result.entries} entries, chain intact; head {result.head}; "
                  f"{result.anchors} anchor(s) found in the chain"
                  + ("" if chain_only else f"; {result.records} stored records explained by the ledger"))
        return
    where = f" at entry {result.first_bad_seq}" if result.first_bad_seq is not None else ""
    out.print(f"[red]ledger broken[/]{where}: {escape(result.problem)}")
    for extra in result.problems[1:]:
        out.print(f"  also: {escape(extra)}")
    raise SystemExit(1)


@ledger.command("anchor")
@click.option("--to", "anchor_file", type=click.Path(dir_okay=False), default=None,
              help="append the head here (default: bus.ledger_anchor_file of the registry)")
def ledger_anchor(anchor_file: str | None) -> None:
    """Append the chain head (seq, hash, HMAC) to an anchor file kept outside the store."""
    from tongban.sync.ledger import anchor

    if anchor_file is None:
        try:
            anchor_file = load_registry().bus.ledger_anchor_file
        except RegistryError as exc:
            fail(str(exc))
    if not anchor_file:
        fail("no anchor file: give --to FILE or set bus.ledger_anchor_file in the registry")
    line = anchor(open_store(), anchor_file)
    if line is None:
        out.print("the ledger is empty: nothing to anchor")
        return
    out.print(f"anchored entry {line['seq']} ({line['entryHash'][:16]}…) to {escape(anchor_file)}")


@ledger.command("list")
@click.option("--limit", default=20, show_default=True)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
def ledger_list(limit: int, fmt: str) -> None:
    """Show the newest ledger entries."""
    from tongban.store.schema import LedgerEntry

    with open_store().reading() as s:
        rows = s.execute(select(LedgerEntry).order_by(LedgerEntry.seq.desc()).limit(limit)).scalars().all()
    if fmt == "json":
        click.echo(json.dumps([{"seq": e.seq, "recordedAt": e.recorded_at, "direction": e.direction,
                                "sender": e.sender, "receiver": e.receiver, "dataset": e.dataset,
                                "binding": e.binding, "messageId": e.message_id, "recordCount": e.record_count,
                                "verdict": e.verdict, "counts": json.loads(e.counts or "{}"),
                                "envelopeSha256": e.envelope_sha256, "entryHash": e.entry_hash}
                               for e in reversed(rows)], ensure_ascii=False, indent=2))
        return
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
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
def quarantine_list(partner_id: str | None, dataset: str | None, status: str, fmt: str) -> None:
    """Quarantined records: partner, dataset, business key, the rules they broke."""
    from tongban.store.schema import QuarantineEntry as Q

    query = select(Q).where(Q.status == status).order_by(Q.id)
    if partner_id:
        query = query.where(Q.partner_id == partner_id)
    if dataset:
        query = query.where(Q.dataset == dataset)
    with open_store().reading() as s:
        rows = s.execute(query).scalars().all()
    if fmt == "json":
        click.echo(json.dumps([{"id": q.id, "partner": q.partner_id, "dataset": q.dataset, "key": q.record_key,
                                "rules": q.rule_ids.split(), "location": q.location, "status": q.status,
                                "receivedAt": q.received_at.isoformat()} for q in rows],
                              ensure_ascii=False, indent=2))
        return
    table = Table(title=f"quarantine ({status}): {len(rows)}")
    for col in ("id", "partner", "dataset", "key", "rules", "first location"):
        table.add_column(col)
    for q in rows:
        table.add_row(str(q.id), q.partner_id, q.dataset, q.record_key or "—", q.rule_ids, q.location or "")
    out.print(table)


@quarantine.command("show")
@click.argument("entry_id", type=int)
@click.option("--unmasked", is_flag=True, help="print the record with personal identity numbers in full; "
              "the disclosure is written to the ledger (who, when, which entry)")
def quarantine_show(entry_id: int, unmasked: bool) -> None:
    """A quarantined record with its findings; identity numbers masked (TBS-SEC-012) unless --unmasked."""
    from tongban.store.schema import QuarantineEntry as Q
    from tongban.validators.report import Report
    from tongban.validators.rules import mask_parties

    store = open_store()
    with store.reading() as s:
        q = s.get(Q, entry_id)
    if q is None:
        fail(f"no quarantine entry {entry_id}")
    out.print(f"entry {q.id}: {q.partner_id} {q.dataset} key {q.record_key} ({q.status})")
    out.print(Report.from_json(json.loads(q.report)).render_text("findings"), markup=False)
    if unmasked:
        record_disclosure(store, q)
        out.print("record as received (unmasked; this disclosure is in the ledger):")
        out.print(q.raw, markup=False)
        return
    try:
        masked = json.dumps(mask_parties(json.loads(q.raw)), ensure_ascii=False)
    except ValueError:  # not JSON at all: nothing of it is shown unmasked
        masked = f"({len(q.raw)} characters, not JSON; --unmasked shows them)"
    out.print("record as received (identity numbers masked, TBS-SEC-012; --unmasked shows them):")
    out.print(masked, markup=False)


def record_disclosure(store, entry) -> None:
    """Ledger entry ``ACCESS``: who saw which quarantined record unmasked, and when."""
    import getpass

    from tongban.model.canonical import sha256_hex
    from tongban.sync import ledger as chain

    try:
        who = getpass.getuser()
    except Exception:  # no user name in this environment
        who = f"uid:{os.getuid()}"
    with store.transaction() as s:
        chain.append(s, direction="ACCESS", sender=who[:64], receiver=entry.partner_id, dataset=entry.dataset,
                     binding="CLI", envelope_sha256=sha256_hex(entry.raw.encode("utf-8")), record_count=1,
                     verdict="DISCLOSED", counts={"quarantineEntry": entry.id})


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


def _duration(seconds: int) -> str:
    days, rest = divmod(seconds, 86400)
    return f"{days}d {rest // 3600}h" if days else f"{rest // 3600}h {rest % 3600 // 60}m"


def _overdue_rule() -> str:
    """The registry's overdue rule (TBS-1.1 change 14 once the bus speaks TBS-1.1); TBS-1.0's
    when no registry is configured here."""
    from tongban.registry import RegistryError, load_registry

    try:
        return load_registry().overdue_rule()
    except (RegistryError, OSError):
        return "TBS-1.0"


@case.command("list")
@click.option("--partner", "partner_id", default=None, help="cases a partner sent (system id)")
@click.option("--region", default=None, help="cases handled in a region (its code; a city code covers its counties)")
@click.option("--open", "only_open", is_flag=True, help="open cases only")
@click.option("--overdue", "only_overdue", is_flag=True, help="overdue cases only (TBS-EVT-011/012, now)")
@click.option("--limit", type=click.IntRange(1), default=50, show_default=True)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
def case_list(partner_id: str | None, region: str | None, only_open: bool, only_overdue: bool, limit: int,
              fmt: str) -> None:
    """Stored cases: number, item, region, submitted, promised by, state, overdue."""
    from datetime import datetime, timezone

    from tongban.sync.cases import case_views

    now = datetime.now(timezone.utc)
    with open_store().reading() as s:
        views = case_views(s, now, source=partner_id, region=region, overdue_rule=_overdue_rule())
    views = [v for v in views if (not only_open or v.is_open) and (not only_overdue or v.overdue_seconds)]
    shown = views[:limit]
    if fmt == "json":
        click.echo(json.dumps({"at": now.isoformat(), "total": len(views), "cases": [
            {"caseNo": v.case["caseNo"], "itemName": v.case.get("itemName"), "regionCode": v.case["regionCode"],
             "submittedAt": v.case["submittedAt"], "promisedBy": v.case.get("promisedBy"), "state": v.state,
             "open": v.is_open, "overdueSeconds": v.overdue_seconds} for v in shown]}, ensure_ascii=False, indent=2))
        return
    from tongban.console import ID, OPTIONAL, TEXT, fitted_table

    rows = [[v.case["caseNo"], v.state or "—",
             (("OVERDUE " if v.is_open else "late ") + _duration(v.overdue_seconds)) if v.overdue_seconds else "—",
             v.case["submittedAt"][:16], (v.case.get("promisedBy") or "—")[:16], v.case["regionCode"],
             v.case.get("itemName", "")] for v in shown]
    out.print(fitted_table(f"cases: {len(shown)} of {len(views)}", [
        ("case", ID), ("state", TEXT), ("overdue", TEXT), ("submitted", ID), ("promised by", OPTIONAL),
        ("region", OPTIONAL), ("item", OPTIONAL)], rows))
    overdue_open = sum(1 for v in views if v.overdue_seconds and v.is_open)
    if overdue_open:
        out.print(f"[red]{overdue_open} open case(s) past their promised date[/] (TBS-EVT-011/012): "
                  "tongban case list --overdue --open")


@case.command("show")
@click.argument("case_no")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
def case_show(case_no: str, fmt: str) -> None:
    """A case's timeline (step, handler, opinion, times, like an order-tracking page), whether it
    is overdue, its results and its evaluations."""
    from datetime import datetime, timezone

    from tongban.sync.cases import case_view

    now = datetime.now(timezone.utc)
    with open_store().reading() as s:
        view = case_view(s, case_no, now, overdue_rule=_overdue_rule())
    if view is None:
        fail(f"no case {case_no} in the store", code=1)
    if fmt == "json":
        click.echo(json.dumps(view.as_dict(), ensure_ascii=False, indent=2))
        return
    record = view.case
    if record:
        out.print(f"[bold]{case_no}[/]  {record['itemName']}  ({record['regionCode']})")
        out.print(f"  applicant {record['applicant']['name']}  submitted {record['submittedAt']}"
                  f"  promised by {record.get('promisedBy', '—')}")
    out.print(f"  state: [bold]{view.state or '—'}[/]" + (f" ({view.conclusion})" if view.conclusion else ""))
    if view.overdue_seconds:
        if view.is_open:
            out.print(f"  [bold red]OVERDUE[/]: open {_duration(view.overdue_seconds)} past its deadline "
                      "(promised date plus suspended time, TBS-EVT-011/012)")
        else:
            out.print(f"  [red]concluded late[/]: {_duration(view.overdue_seconds)} past its deadline (TBS-EVT-011)")
    table = Table(title="timeline")
    for col in ("seq", "time", "type", "step", "handler", "opinion"):
        table.add_column(col, no_wrap=col in ("seq", "type"))
    for e in view.events:
        handler = e.get("handler", {}).get("name", "") if isinstance(e.get("handler"), dict) else ""
        detail = e.get("opinion", "") or e.get("conclusionCode", "") or e.get("action", "")
        table.add_row(str(e["seq"]), e["occurredAt"], e["type"], e["stepName"], handler, detail)
    out.print(table)
    if view.results:
        out.print("[bold]results[/] (办件结果):")
        for r in view.results:
            doc = r.get("document") or {}
            out.print(f"  {r.get('resultType', '')} {r.get('certNo', '')}  issued {r.get('issuedAt', '')}"
                      + (f"  document {doc.get('fileName')}" if isinstance(doc, dict) and doc.get("fileName") else ""))
    else:
        out.print("results: none stored")
    if view.evaluations:
        out.print("[bold]evaluations[/] (好差评, 5 = 非常满意):")
        for e in view.evaluations:
            comment = e.get("comment") or ""
            out.print(f"  #{e.get('assessNo')} satisfaction {e.get('satisfaction')} via channel {e.get('channel')}"
                      f" at {e.get('assessedAt')}" + (f": {comment}" if comment else ""))
    else:
        out.print("evaluations: none stored")


@click.command("export")
@click.option("--dataset", type=click.Choice(DATASETS), required=True)
@click.option("--format", "fmt", type=click.Choice(["jsonl"]), default="jsonl")
def export_command(dataset: str, fmt: str) -> None:
    """Print the stored current records in canonical form (JCS), one per line, in business-key order."""
    from tongban.sync.export import export_current

    for line in export_current(open_store(), dataset):
        click.echo(line)
