"""``tongban partners list|check``."""
from __future__ import annotations

import json

import click
from rich.markup import escape

from tongban.console import ID, OPTIONAL, TEXT, err, fail, fitted_table, out
from tongban.registry import RegistryError, load_registry

partners_option = click.option("--partners", "partners_file", type=click.Path(dir_okay=False), default=None,
                               help="partner registry (default: $TONGBAN_PARTNERS or ./partners.yaml)")


@click.group()
def partners() -> None:
    """The partner registry (partners.yaml)."""


@partners.command("list")
@partners_option
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
def list_partners(partners_file: str | None, fmt: str) -> None:
    """List the registered partner systems."""
    try:
        reg = load_registry(partners_file)
    except RegistryError as exc:
        fail(str(exc))
    certs = _certification_states(reg)
    if fmt == "json":
        rows = [{"id": p.id, "name": p.name, "level": p.system_level, "regionCode": p.system_region,
                 "parent": p.parent, "transport": p.transport.value, "endpoint": p.endpoint,
                 "roles": [r.value for r in p.roles], "specVersion": p.spec_version,
                 "certification": certs.get(p.id, {})} for p in reg.partners]
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    rows = []
    for p in reg.partners:
        state = certs.get(p.id) or {}
        certified = ", ".join(f"{r} {MARK.get(v, v)}" for r, v in sorted(state.items())) or "—"
        rows.append([p.id, p.transport.value, p.endpoint, ", ".join(r.value for r in p.roles), certified, p.name,
                     p.parent or "—", p.spec_version])
    out.print(fitted_table(f"partners in {reg.path} (bus {reg.bus.system_id})",
                           [("id", ID), ("transport", TEXT), ("endpoint", ID), ("roles", TEXT), ("certified", TEXT),
                            ("name", OPTIONAL), ("parent", OPTIONAL), ("spec", OPTIONAL)], rows))
    out.print("certified: ✓ CONFORMANT, ✗ NOT_CONFORMANT, expired: EXPIRED — over the transport listed "
              "(TBS-CONF-008); — none")


MARK = {"CONFORMANT": "✓", "NOT_CONFORMANT": "✗"}


def _certification_states(reg) -> dict[str, dict[str, str]]:
    """Certification per partner and role, when the conformance part is installed and a store exists."""
    try:
        from tongban.conformance.admission import certification_states  # type: ignore[import-not-found]
    except ImportError:
        return {}
    try:
        return certification_states(reg)
    except Exception as exc:  # the listing must work without a store
        err.print(f"[yellow]certification state unavailable:[/] {exc}")
        return {}


@partners.command("check")
@partners_option
@click.option("--probe/--no-probe", default=False, help="also call each REST/SOAP partner's meta (TBS-REST-002)")
def check_partners(partners_file: str | None, probe: bool) -> None:
    """Validate the registry; with --probe, reach every pull partner and compare its meta."""
    try:
        reg = load_registry(partners_file)
    except RegistryError as exc:
        fail(str(exc), code=1)
    out.print(f"[green]ok[/] {reg.path}: bus {reg.bus.system_id}, {len(reg.partners)} partners")
    if not probe:
        return
    from tongban.connectors.base import ConnectorError
    from tongban.sync.connect import open_connector

    bad = 0
    for p in reg.partners:
        if p.transport.value not in ("rest", "soap"):
            out.print(f"  {p.id}: {p.transport.value} (push binding, nothing to probe)")
            continue
        try:
            with_connector = open_connector(p, reg.bus.system_id, retries=0)
            try:
                meta = with_connector.meta()
            finally:
                with_connector.close()
        except ConnectorError as exc:
            bad += 1
            out.print(f"  [red]unreachable[/] {p.id} at {escape(p.endpoint)}: {escape(str(exc))}")
            continue
        problems = []
        if meta.get("systemId") != p.id:
            problems.append(f"meta.systemId is {meta.get('systemId')!r}")
        missing = {r.value for r in p.roles} - set(meta.get("roles", []))
        if missing:
            problems.append(f"meta does not claim roles {sorted(missing)}")
        if problems:
            bad += 1
            out.print(f"  [red]mismatch[/] {p.id}: " + "; ".join(problems))
        else:
            out.print(f"  [green]ok[/] {p.id}: roles {', '.join(meta.get('roles', []))}")
    if bad:
        raise SystemExit(1)
