"""``tongban spec``: the versions of the standard, side by side."""
from __future__ import annotations

import json
import sys

import click

from tongban.console import ID, OPTIONAL, TEXT, fail, fitted_table, out


@click.group("spec")
def spec() -> None:
    """Versions of the interface standard: compare them and classify each change."""


@spec.command("diff")
@click.argument("old")
@click.argument("new")
@click.option("--for", "side", type=click.Choice(["producer", "consumer"]),
              help="Exit 1 when a difference is breaking for this side (§0.2 of the revision document).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def diff_command(old: str, new: str, side: str | None, fmt: str) -> None:
    """List every difference from OLD to NEW (e.g. tbs-1.0 tbs-1.1), each classed for producers and consumers.

    Schema-visible differences are found by comparing the two spec folders (JSON Schemas, code
    tables, OpenAPI, WSDL/XSD, AsyncAPI); requirement changes with no schema trace come from
    NEW's requirement-changes.json ("found in: requirement text"). Exit 0, or 1 with --for when a
    difference is breaking for that side; 2 for an unknown version.
    """
    from tongban.specdiff import breaking, diff, iter_rows

    try:
        differences = diff(old, new)
    except LookupError as exc:
        fail(str(exc))
    flagged = breaking(differences, side) if side else []
    if fmt == "json":
        print(json.dumps({"from": old.upper(), "to": new.upper(), "differences": [d.as_json() for d in differences],
                          "breaking": {"producers": len(breaking(differences, "producer")),
                                       "consumers": len(breaking(differences, "consumer"))}},
                         ensure_ascii=False, indent=2))
    else:
        columns = [("what", ID), ("location", ID), ("detail", TEXT), ("producers", ID), ("consumers", ID),
                   ("found in", TEXT), ("files", OPTIONAL)]
        out.print(fitted_table(f"{old.upper()} → {new.upper()}: {len(differences)} differences", columns,
                               [list(row) for row in iter_rows(differences)]))
        out.print(f"breaking for producers: {len(breaking(differences, 'producer'))}, "
                  f"for consumers: {len(breaking(differences, 'consumer'))}")
    sys.exit(1 if flagged else 0)


@spec.command("impact")
@click.argument("target")
@click.option("--from", "base", default="TBS-1.0", show_default=True, help="The version the records were stored under.")
@click.option("--since", default=None, help="Only records whose business time is at or after this RFC 3339 instant.")
@click.option("--partner", "partners", multiple=True, help="Only these partners (system ids); repeatable.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--html", "html_path", type=click.Path(dir_okay=False), default=None,
              help="Also write the dashboard page of the report to this file.")
def impact_command(target: str, base: str, since: str | None, partners: tuple[str, ...], fmt: str,
                   html_path: str | None) -> None:
    """Replay the stored records of each partner through TARGET (e.g. tbs-1.1): per partner and change, how many would be rejected, warned or change meaning.

    Records are written in TARGET by Annex E and validated statelessly (S1–S3); each finding is
    attributed to the difference of `tongban spec diff` that causes it, with example record keys.
    """
    from tongban.specimpact import impact
    from tongban.store.cli import open_store
    from tongban.validators.checks import parse_date_time

    if since is not None and parse_date_time(since) is None:
        fail(f"--since {since!r} is not an RFC 3339 date-time with offset")
    try:
        report = impact(open_store(), target.upper(), base.upper(), since=since, partners=partners or None)
    except LookupError as exc:
        fail(str(exc))
    if html_path is not None:
        from pathlib import Path

        from tongban.monitoring.impact_page import render_impact_html

        Path(html_path).write_text(render_impact_html(report, target=target.upper(), base=base.upper(), since=since),
                                   encoding="utf-8")
    if fmt == "json":
        print(json.dumps({"from": base.upper(), "to": target.upper(), "since": since,
                          "partners": [p.as_json() for p in report]}, ensure_ascii=False, indent=2))
        return
    rows = []
    for p in report:
        rows.append([p.partner, "(all)", str(p.records), str(p.rejected), "", "", ""])
        for c in sorted(p.counts.values(), key=lambda c: c.difference):
            rows.append(["", c.difference, "", str(c.rejected), str(c.warned), str(c.meaning_changed),
                         "; ".join(c.examples)])
        for plan in p.certification:
            rows.append(["", f"certificate {plan['role']} {plan['binding']}: {plan['reason']}", "", "", "", "",
                         "rerun " + ", ".join(plan["rerun"] + plan["new"])
                         + ("; carry over " + ", ".join(plan["carryOver"]) if plan["carryOver"] else "")])
    columns = [("partner", ID), ("change", TEXT), ("records", ID), ("rejected", ID), ("warned", ID),
               ("meaning changed", ID), ("examples", OPTIONAL)]
    out.print(fitted_table(f"impact of {target.upper()} on records stored under {base.upper()}", columns, rows))
