"""``tongban airflow``: deployment chores for the Airflow side (pools from the registry).

Airflow is imported only inside the commands (through :mod:`tongban.airflow_ext`), so the rest
of the CLI works without the ``airflow`` extra.
"""
from __future__ import annotations

import json

import click
from rich.markup import escape

from tongban.console import err, fail, out
from tongban.registry import RegistryError, load_registry
from tongban.registry_cli import partners_option


@click.group("airflow")
def airflow_group() -> None:
    """Airflow deployment: pools from the partner registry."""


def _airflow_ext():
    try:
        from tongban.airflow_ext import pools
    except ImportError as exc:
        fail(f"{exc} (tongban airflow needs the Airflow extra: pip install 'tongban[airflow]')")
    return pools


@airflow_group.command("sync-pools")
@partners_option
@click.option("--prune", is_flag=True, help="also delete partner_* pools of partners no longer in the registry")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
def sync_pools_command(partners_file: str | None, prune: bool, fmt: str) -> None:
    """Create or resize one pool per registry partner (partner_<slug>, pool_slots slots) in
    Airflow's metadata DB (AIRFLOW__DATABASE__SQL_ALCHEMY_CONN, as `airflow pools set` uses)."""
    try:
        registry = load_registry(partners_file)
    except RegistryError as exc:
        fail(str(exc))
    pools = _airflow_ext()
    try:
        outcome = pools.sync_pools(registry, prune=prune)
    except Exception as exc:  # the metadata DB is missing, unmigrated or unreachable
        fail(f"cannot write the pools to Airflow's metadata DB: {type(exc).__name__}: {str(exc).splitlines()[0]} "
             f"(run `airflow db migrate` and set AIRFLOW__DATABASE__SQL_ALCHEMY_CONN as the scheduler has it)")
    if fmt == "json":
        click.echo(json.dumps(outcome, indent=2))
        return
    slots = {s.name: s.slots for s in pools.pools_for(registry)}
    for kind in ("created", "updated", "unchanged", "deleted"):
        for name in outcome[kind]:
            out.print(f"{kind:9} {escape(name)}" + (f" ({slots[name]} slots)" if name in slots else ""))
    err.print(f"pools: {len(slots)} in the registry · created {len(outcome['created'])} · "
              f"updated {len(outcome['updated'])} · deleted {len(outcome['deleted'])}")
