"""``tongban conformance``: run the TBS-1.0 conformance suite, verify certificates, list the catalogue.

Exit codes of ``run``: 0 conformant for every claimed role, 1 not conformant, 2 could not run
(bad arguments, unreachable SUT, or a harness ERROR: rerun the session). With ``--format json``
stdout is the certificate JSON and progress goes to stderr.
"""
from __future__ import annotations

import base64
import json
import os
import sys
from pathlib import Path
from typing import Any

import click
from rich.markup import escape

from tongban.console import err, out

from .certify import EXIT_COULD_NOT_RUN, CannotRun, certify
from .session import DEFAULT_ISSUER, ROLES, SessionConfig
from .suite import CATALOGUE, TestRun

STYLE = {"PASS": "green", "FAIL": "bold red", "SKIP": "yellow", "OMIT": "dim", "ERROR": "bold magenta"}


def _fail(message: str) -> "None":
    err.print(f"[bold red]error:[/] {escape(message)}")
    sys.exit(EXIT_COULD_NOT_RUN)


def _key_from_env(name: str | None) -> bytes | None:
    """An HMAC key from an environment variable: ``base64:…``, ``hex:…`` or the raw text."""
    if not name:
        return None
    value = os.environ.get(name)
    if not value:
        _fail(f"environment variable {name} is not set")
    assert value is not None
    if value.startswith("base64:"):
        return base64.b64decode(value[7:])
    if value.startswith("hex:"):
        return bytes.fromhex(value[4:])
    return value.encode("utf-8")


@click.group()
def conformance() -> None:
    """TBS-1.0 conformance suite (§20): certify a joining system per role and binding."""


@conformance.command("run")
@click.option("--system-id", required=True, help="system id of the system under test (TB:level:region:code)")
@click.option("--role", "roles", multiple=True, required=True, type=click.Choice(ROLES),
              help="claimed role (repeat for several)")
@click.option("--transport", type=click.Choice(["rest", "soap", "file", "mqtt"]), default="rest", show_default=True)
@click.option("--endpoint", required=True, help="REST base URL, SOAP endpoint, drop root (file) or broker URL (mqtt)")
@click.option("--credential-env", metavar="VAR", help="environment variable holding the bearer token the suite presents")
@click.option("--ca-file", type=click.Path(exists=True, dir_okay=False), help="PEM file trusted for the SUT's TLS")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--out", "out_dir", type=click.Path(file_okay=False), help="folder for report.json, certificate.json, "
              "certificate.html")
@click.option("--issuer", default=DEFAULT_ISSUER, show_default=True, help="system id of the testing authority")
@click.option("--kit-system-id", help="system id the suite acts as (default: the issuer)")
@click.option("--kit-key-env", metavar="VAR", help="HMAC-SHA256 key the SUT holds for the suite (base64:/hex:/raw)")
@click.option("--kit-key-id", default="TBS-CONF-K1", show_default=True)
@click.option("--sut-key-env", metavar="VAR", help="the SUT's HMAC-SHA256 key, to verify its signatures (file, mqtt)")
@click.option("--sut-key-id", default=None, help="key id of --sut-key-env")
@click.option("--documents", type=click.Path(exists=True, file_okay=False), help="result documents by fileName (RP-03)")
@click.option("--attestation", type=click.Path(exists=True, dir_okay=False),
              help='JSON {"ER-04": {"result": "PASS", "statement": …, "evidence": …}} (TBS-CONF-009)')
@click.option("--sut-pulls", is_flag=True, help="the SUT, as a consumer, pulls feeds (CC-06 applies)")
@click.option("--wait", "wait_seconds", type=float, default=30.0, show_default=True,
              help="file/mqtt: seconds to wait for the SUT's pushes")
@click.option("--page-limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@click.option("--only", multiple=True, help="run only these test ids (a partial session, for diagnosis)")
def run_command(system_id: str, roles: tuple[str, ...], transport: str, endpoint: str, credential_env: str | None,
                ca_file: str | None, fmt: str, out_dir: str | None, issuer: str, kit_system_id: str | None,
                kit_key_env: str | None, kit_key_id: str, sut_key_env: str | None, sut_key_id: str | None,
                documents: str | None, attestation: str | None, sut_pulls: bool, wait_seconds: float,
                page_limit: int, only: tuple[str, ...]) -> None:
    """Run the suite against one system and issue its certificate."""
    token = None
    if credential_env:
        token = os.environ.get(credential_env)
        if not token:
            _fail(f"environment variable {credential_env} (--credential-env) is not set")
    attestations: dict[str, Any] = {}
    if attestation:
        try:
            attestations = json.loads(Path(attestation).read_text(encoding="utf-8"))
        except ValueError as exc:
            _fail(f"--attestation {attestation} is not JSON: {exc}")
        if not isinstance(attestations, dict):
            _fail("--attestation must hold a JSON object keyed by test id")
    unknown = sorted(set(only) - {t.test_id for t in CATALOGUE})
    if unknown:
        _fail(f"unknown test id(s) {unknown}")
    kit_key = _key_from_env(kit_key_env)
    sut_key = _key_from_env(sut_key_env)
    try:
        config = SessionConfig(
            system_id=system_id, roles=tuple(roles), binding=transport, endpoint=endpoint, token=token,
            ca_file=ca_file, kit_system_id=kit_system_id or issuer, issuer=issuer, page_limit=page_limit,
            documents_dir=Path(documents) if documents else None, attestations=attestations,
            kit_key=(kit_key_id, kit_key) if kit_key else None,
            sut_keys={sut_key_id or "default": sut_key} if sut_key else {}, sut_pulls=sut_pulls,
            wait_seconds=wait_seconds)
    except ValueError as exc:
        _fail(str(exc))
    console = err if fmt == "json" else out
    console.print(f"[bold]TBS-1.0 conformance[/] {escape(system_id)} over {transport.upper()} at {escape(endpoint)}; "
                  f"roles {', '.join(roles)}")

    def progress(item: TestRun) -> None:
        result = item.result.result.value
        reason = f" — {escape(item.result.reason[:120])}" if item.result.reason else ""
        console.print(f"  {item.test_id:<6} [{STYLE[result]}]{result:<5}[/] {item.test.level.value:<6} "
                      f"{', '.join(item.roles)}{reason}")

    try:
        outcome = certify(config, Path(out_dir) if out_dir else None, only=set(only) or None, progress=progress)
    except CannotRun as exc:
        _fail(str(exc))
    verdicts = outcome.run.role_verdicts()
    for role, verdict in verdicts.items():
        colour = "green" if verdict.value == "CONFORMANT" else "red"
        console.print(f"[bold]{role}[/]: [{colour}]{verdict.value}[/]")
    if outcome.outputs is not None:
        console.print(f"written: {outcome.outputs.report_file}, {outcome.outputs.certificate_file}, "
                      f"{outcome.outputs.html_file}")
    if outcome.run.harness_failed:
        console.print("[bold magenta]the harness failed in at least one test (ERROR): rerun the session[/]")
    if fmt == "json":
        click.echo(json.dumps(outcome.certificate, ensure_ascii=False, indent=2))
    sys.exit(outcome.exit_code)


@conformance.command("verify")
@click.argument("folder", type=click.Path(exists=True, file_okay=False))
def verify_command(folder: str) -> None:
    """Recompute reportSha256 from report.json and check certificate.json (exit 0 ok, 1 not)."""
    from .certificate import verify_directory

    problems = verify_directory(Path(folder))
    if problems:
        for p in problems:
            err.print(f"[red]✗[/] {escape(p)}")
        sys.exit(1)
    out.print(f"[green]✓[/] {escape(folder)}: reportSha256 matches report.json; certificate consistent")


@conformance.command("list")
def list_command() -> None:
    """The test catalogue (§20.2)."""
    from rich.table import Table

    table = Table(title="TBS-1.0 test catalogue")
    for col in ("test", "level", "roles", "bindings", "requirements", "procedure"):
        table.add_column(col)
    for cls in CATALOGUE:
        t = cls()
        reqs = list(t.requirement_ids) + [f"{r} [{b}]" for b, rs in t.binding_requirements.items() for r in rs]
        table.add_row(t.test_id, t.level.value, ", ".join(t.roles), ", ".join(t.bindings),
                      ", ".join(reqs[:6]) + (" …" if len(reqs) > 6 else ""), t.description)
    out.print(table)
