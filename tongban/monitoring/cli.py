"""``tongban status``, ``tongban report`` and ``tongban serve``."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

import click
from rich.markup import escape
from rich.padding import Padding
from rich.table import Table

from tongban.console import err, fail, out
from tongban.registry import RegistryError, load_registry
from tongban.registry_cli import partners_option
from tongban.store.cli import open_store


def _registry(partners_file: str | None, *, required: bool = False) -> Any | None:
    try:
        return load_registry(partners_file)
    except RegistryError as exc:
        if required:
            fail(str(exc))
        err.print(f"[yellow]no partner registry ({escape(str(exc).splitlines()[0])}); "
                  f"showing what the store holds[/]")
        return None


def _instant(value: str | None) -> datetime | None:
    from tongban.monitoring.runs import parse_instant

    t = parse_instant(value)
    if value and t is None:
        raise click.BadParameter(f"not an RFC 3339 date-time with an offset (e.g. 2026-11-20T12:00:00+08:00): "
                                 f"{value!r}")
    return t


@click.command("status")
@partners_option
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
def status_command(partners_file: str | None, fmt: str) -> None:
    """Partners with certification state, last successful sync per dataset, lag, failures in
    the last 24 h and quarantine counts."""
    from tongban.monitoring.dashboard import duration, local_time
    from tongban.monitoring.runs import partner_statuses

    registry = _registry(partners_file)
    store = open_store()
    now = datetime.now(timezone.utc)
    partners = partner_statuses(store, registry, now=now)
    if fmt == "json":
        click.echo(json.dumps({"generatedAt": now.isoformat(), "store": store.display_url,
                               "registry": str(registry.path) if registry else None,
                               "partners": [p.as_dict() for p in partners]}, ensure_ascii=False, indent=2))
        return
    marks = {"CONFORMANT": "✓", "NOT_CONFORMANT": "✗"}
    rows = []   # (partner id, certification, the feed's cells or None)
    for p in partners:
        cert = "—" if not p.certification else ", ".join(f"{r} {marks.get(v, v)}"
                                                         for r, v in sorted(p.certification.items()))
        feeds = []
        for f in p.feeds or [None]:
            if f is None:
                feeds.append(None)
                continue
            failures = ", ".join(f"{x.error_code}@{x.error_hop}" for x in f.failures_24h[-3:])
            if len(f.failures_24h) > 3:
                failures += f" (+{len(f.failures_24h) - 3})"
            feeds.append((f.dataset, local_time(f.last_success_at) if f.last_success_at else "[red]never[/]",
                          duration(f.lag_seconds), f"[red]{escape(failures)}[/]" if failures else "0",
                          str(f.quarantine_open), str(f.held), str(f.stored_records)))
        rows.append((p.partner_id, cert, feeds))
    title = f"tongban status · store {store.display_url}"
    wide = _wide_status(title, rows)
    if _renders_whole(wide, out.width):
        out.print(wide)
    else:
        # a narrow terminal: one block per partner (its id and certification on their own lines,
        # wrapped between roles), then its feeds — identifiers are never cut
        out.print(title, soft_wrap=True)
        for partner_id, cert, feeds in rows:
            out.print()
            out.print(f"[bold]{escape(partner_id)}[/]", soft_wrap=True)
            out.print(Padding(f"certified: {escape(cert)}", (0, 0, 0, 2)))
            out.print(_feeds_table(feeds, narrow=True))
    skipped = [(p.partner_id, [f.dataset for f in p.feeds if f.skipped_reason]) for p in partners]
    skipped = [(pid, ds) for pid, ds in skipped if ds]
    if skipped:
        out.print(f"[yellow]skipped in their last run, not admitted (TBS-CONF-008):[/] "
                  + "; ".join(f"{escape(pid)} ({', '.join(ds)})" for pid, ds in skipped))
    failing = sum(p.failures_24h for p in partners)
    quarantined = sum(p.quarantine_open for p in partners)
    out.print(f"partners: {len(partners)} · failed runs in the last 24 h: {failing} · "
              f"records in quarantine: {quarantined}")


STATUS_COLUMNS = ("dataset", "last success", "lag", "failures 24h", "quarantine", "held", "stored")
NARROW_HEADERS = {"last success": "last success", "failures 24h": "failed 24h", "quarantine": "quar.",
                  "stored": "stored"}


def _renders_whole(table: Table, width: int) -> bool:
    """Does ``table`` render at ``width`` with nothing cut: no cell ellipsized and every row
    ending in the table's right border? (rich crops a table wider than the terminal.)"""
    import io

    from rich.console import Console

    probe = Console(width=width, file=io.StringIO(), color_system=None, highlight=False, legacy_windows=False)
    probe.print(table)
    lines = [line.rstrip() for line in probe.file.getvalue().splitlines()]  # type: ignore[attr-defined]
    framed = [line for line in lines if line[:1] in "┏┃┡│├└"]
    return "…" not in "".join(framed) and all(line[-1:] in "┓┃┩│┤┘" for line in framed)


def _certified_width(rows: list[tuple[str, str, list[Any]]]) -> int:
    """The longest "ROLE ✓," of any partner: a role name is never cut."""
    return max([len(word) + 3 for r in rows for word in r[1].split() if word not in ("✓,", "✗,", "✓", "✗")] + [9])


def _wide_status(title: str, rows: list[tuple[str, str, list[Any]]]) -> Table:
    table = Table(title=title)
    # identifiers are never cut: partner ids and dataset names keep their width, the rest wraps
    id_width = max([len(r[0]) for r in rows] + [7])
    table.add_column("partner", no_wrap=True, min_width=id_width)
    table.add_column("certified", min_width=_certified_width(rows))
    for col in STATUS_COLUMNS:
        table.add_column(col, justify="right" if col in ("lag", "quarantine", "held", "stored") else "left",
                         no_wrap=col in ("dataset", "last success", "lag"))
    for partner_id, cert, feeds in rows:
        for i, f in enumerate(feeds):
            head = (escape(partner_id), escape(cert)) if i == 0 else ("", "")
            table.add_row(*head, *(f or ("—",) * len(STATUS_COLUMNS)), end_section=i == len(feeds) - 1)
    return table


def _feeds_table(feeds: list[Any], *, narrow: bool) -> Table:
    from rich import box

    table = Table(box=box.SIMPLE_HEAD, padding=(0, 1), pad_edge=False, show_edge=False)
    for col in STATUS_COLUMNS:
        table.add_column(NARROW_HEADERS.get(col, col) if narrow else col,
                         justify="right" if col in ("lag", "quarantine", "held", "stored") else "left",
                         no_wrap=col in ("dataset", "last success", "lag"))
    for f in feeds:
        table.add_row(*(f or ("—",) * len(STATUS_COLUMNS)))
    return table


@click.command("report")
@partners_option
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="folder for index.html, report.json and metrics.txt")
@click.option("--at", "at_text", default=None, help="metrics instant (RFC 3339; default now)")
@click.option("--compare-feed", "compare_feeds", multiple=True, metavar="PARTNER",
              help="also read this partner's catalog feed and compare it for two skins (repeatable)")
def report_command(partners_file: str | None, out_dir: str, at_text: str | None,
                   compare_feeds: tuple[str, ...]) -> None:
    """Write the static dashboard (self-contained HTML, JSON, OpenMetrics) into a folder."""
    from tongban.monitoring.consistency import feed_records
    from tongban.monitoring.dashboard import collect, write_report

    at = _instant(at_text)
    registry = _registry(partners_file, required=bool(compare_feeds))
    store = open_store()
    extra = {}
    for partner_id in compare_feeds:
        try:
            partner = registry.get(partner_id)
            extra[partner.id] = feed_records(registry, partner.id, "catalog")
        except KeyError as exc:
            fail(str(exc).strip("'\""))
        except Exception as exc:  # an unreachable partner: report without it, say why
            err.print(f"[yellow]cannot read the catalog feed of {escape(partner_id)}:[/] {escape(str(exc))}")
    snapshot = collect(store, registry, at=at, extra_sources=extra)
    files = write_report(snapshot, out_dir, store=store, registry=registry)
    province = snapshot.metrics.scope("province")
    out.print(f"[green]wrote[/] {', '.join(escape(str(f)) for f in files)}")
    if province:
        p = province[0]
        out.print(f"{p.items_active} active items · {p.cases} cases · {p.overdue_cases} overdue · "
                  f"two skins {snapshot.consistency.two_skins.count} · many names "
                  f"{len(snapshot.consistency.many_names)} · near duplicates {len(snapshot.consistency.near_duplicates)}")


@click.command("serve")
@partners_option
@click.option("--port", default=8750, show_default=True, type=click.IntRange(0, 65535))
@click.option("--host", default="127.0.0.1", show_default=True,
              help="interface to bind; the dashboard has no authentication, keep it on loopback")
@click.option("--refresh", "refresh_seconds", default=30, show_default=True, type=click.IntRange(5, 3600),
              help="seconds after which the browser reloads the page")
def serve_command(partners_file: str | None, port: int, host: str, refresh_seconds: int) -> None:
    """Serve the dashboard live, with /metrics (OpenMetrics) and /report.json."""
    import uvicorn

    from tongban.monitoring.app import create_app

    store = open_store()
    _registry(partners_file)   # say once at start when there is none

    def registry_loader():
        try:
            return load_registry(partners_file)
        except RegistryError:
            return None

    out.print(f"tongban dashboard on http://{host}:{port}/ (reloads every {refresh_seconds} s) · OpenMetrics at "
              f"/metrics · store {store.display_url}")
    uvicorn.run(create_app(store, registry_loader, refresh_seconds=refresh_seconds), host=host, port=port,
                log_level="warning")
