"""The ``tongban`` command line.

Sub-commands live next to what they drive and are imported lazily, so ``tongban --help``
stays fast and a missing optional part does not break the others. The command list of
``--help`` comes from :data:`SUMMARIES` and imports none of them (a test keeps each summary
equal to its command's own help).
"""
from __future__ import annotations

import importlib
import sys

import click

from tongban import __version__

# name -> "module:attribute" of a click command or group.
COMMANDS: dict[str, str] = {
    "partners": "tongban.registry_cli:partners",
    "airflow": "tongban.airflow_cli:airflow_group",
    "db": "tongban.store.cli:db",
    "demo": "tongban.demo:demo_command",
    "sync": "tongban.sync.cli:sync_command",
    "export": "tongban.sync.cli:export_command",
    "quarantine": "tongban.sync.cli:quarantine",
    "ledger": "tongban.sync.cli:ledger",
    "case": "tongban.sync.cli:case",
    "validate": "tongban.sync.validate_frontdb:validate_command",
    "sandbox": "tongban.sandbox.cli:sandbox",
    "conformance": "tongban.conformance.cli:conformance",
    "status": "tongban.monitoring.cli:status_command",
    "report": "tongban.monitoring.cli:report_command",
    "serve": "tongban.monitoring.cli:serve_command",
    "gateway": "tongban.gateway.cli:gateway_command",
    "sftp": "tongban.sftp_cli:sftp",
    "spec": "tongban.spec_cli:spec",
}

# name -> the first sentence of the command's help, shown by ``tongban --help``.
SUMMARIES: dict[str, str] = {
    "partners": "The partner registry (partners.yaml).",
    "airflow": "Airflow deployment: pools from the partner registry.",
    "db": "The tongban store (SQLite under .tongban/ by default, TONGBAN_DATABASE_URL for PostgreSQL).",
    "demo": "Run the sandbox, certify it, run the sync DAGs once, publish events, print a summary.",
    "sync": "Run one incremental sync and print its outcome counts (--all: one cycle over every partner).",
    "export": "Print the stored current records in canonical form (JCS), one per line, in business-key order.",
    "quarantine": "Records rejected with their findings, kept verbatim.",
    "ledger": "The hash-chained exchange ledger.",
    "case": "Case (办件) tracking.",
    "validate": "Stateless validation (TBS-1.0 §19, TBS-RPT-009) of envelopes, SOAP PushBatch bodies, file-drop "
                "batches (a manifest path) and, with --dataset, bare records.",
    "sandbox": "Simulated province, city and county systems on loopback (HTTPS with a local CA).",
    "conformance": "Conformance suite (TBS-1.0 §20; TBS-1.1 with delta sessions): certify a system per role and binding.",
    "status": "Partners with certification state, last successful sync per dataset, lag, failures in the last "
              "24 h and quarantine counts.",
    "report": "Write the static dashboard (self-contained HTML, JSON, OpenMetrics) into a folder.",
    "serve": "Serve the dashboard live, with /metrics (OpenMetrics) and /report.json.",
    "gateway": "Serve pushes to the bus: REST POST, SOAP PushBatch, MQTT and file drop, until SIGTERM.",
    "sftp": "The file-drop binding's SFTP drop server (one account per sender and drop root, TBS-SEC-001).",
    "spec": "Versions of the interface standard: compare them and classify each change.",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list from :data:`SUMMARIES`, laid out as click does, importing nothing."""
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = [(name, click.Command(name, help=SUMMARIES.get(name, "")).get_short_help_str(limit)) for name in names]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

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
