"""The ``tongban`` command line.

Sub-commands live next to what they drive and are imported lazily, so ``tongban --help``
stays fast and a missing optional part does not break the others.
"""
from __future__ import annotations

import importlib
import sys

import click

from tongban import __version__

# name -> "module:attribute" of a click command or group.
COMMANDS: dict[str, str] = {
    "partners": "tongban.registry_cli:partners",
    "db": "tongban.store.cli:db",
    "demo": "tongban.demo:demo_command",
    "sync": "tongban.sync.cli:sync_command",
    "export": "tongban.sync.cli:export_command",
    "quarantine": "tongban.sync.cli:quarantine",
    "ledger": "tongban.sync.cli:ledger",
    "case": "tongban.sync.cli:case",
    "validate": "tongban.validators.cli:validate_command",
    "sandbox": "tongban.sandbox.cli:sandbox",
    "conformance": "tongban.conformance.cli:conformance",
    "status": "tongban.monitoring.cli:status_command",
    "report": "tongban.monitoring.cli:report_command",
    "serve": "tongban.monitoring.cli:serve_command",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(name for name in COMMANDS if self._load(name, quiet=True) is not None)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        return self._load(name, quiet=False)

    @staticmethod
    def _load(name: str, *, quiet: bool) -> click.Command | None:
        target = COMMANDS.get(name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and module_name.startswith(exc.name):
                return None  # not built yet in this version
            raise
        return getattr(module, attr, None)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="tongban")
def main() -> None:
    """tongban (一网通办): TBS-1.0 data-exchange bus: sync, validate, certify, monitor."""


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
