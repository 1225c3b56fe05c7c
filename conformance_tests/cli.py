"""``tongban conformance``: run the conformance suite (TBS-1.0, or TBS-1.1 incl. delta sessions), verify certificates, list the catalogue.

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
from tongban.model.datasets import ROLES

from .certify import EXIT_COULD_NOT_RUN, CannotRun, certify
from .session import DEFAULT_ISSUER, SessionConfig, binding_of
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
    """Conformance suite (TBS-1.0 §20; TBS-1.1 with delta sessions): certify a system per role and binding."""


@conformance.command("run")
@click.option("--partner", "partner_id", help="a partner of the registry (--partners / TONGBAN_PARTNERS): its id, "
              "roles, transport, endpoint, credentials, CA file and name are taken from there")
@click.option("--partners", "partners_file", type=click.Path(dir_okay=False), help="the registry for --partner")
@click.option("--system-id", help="system id of the system under test (TB:level:region:code)")
@click.option("--role", "roles", multiple=True, type=click.Choice(ROLES),
              help="claimed role (repeat for several; with --partner: default all its roles)")
@click.option("--transport", type=click.Choice(["rest", "soap", "file", "filedrop", "mqtt"]),
              help="binding tested  [default: rest, or the partner's]")
@click.option("--endpoint", help="REST base URL, SOAP endpoint, drop root (file) or broker URL (mqtt)")
@click.option("--credential-env", metavar="VAR", help="environment variable holding the bearer token the suite presents (mqtts: its broker password)")
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
@click.option("--system-name", help="the system's name, as the certificate states it (default: none)")
@click.option("--signing-key", type=click.Path(dir_okay=False), help="the issuer's Ed25519 private key (PEM); "
              "created when missing  [default: $TONGBAN_HOME/conformance/issuer-key.pem]")
@click.option("--valid-days", type=click.IntRange(1, 3660), default=365, show_default=True,
              help="validity period of the certificate")
@click.option("--spec", "spec_version", type=click.Choice(["TBS-1.0", "TBS-1.1"]), default="TBS-1.0", show_default=True,
              help="the spec version certified: what the suite sends and validates against (TBS-1.1: REST only)")
@click.option("--delta-from", "delta_from", type=click.Path(dir_okay=False),
              help="the system's earlier TBS-1.0 certificate.json (report.json beside it is checked too): run only "
                   "what Table 4.1 reruns or adds, carry the rest over (TBS-CONF-010; needs --spec TBS-1.1)")
@click.option("--record", is_flag=True, help="record the certificate in the store: the bus then syncs the "
              "CONFORMANT roles over this binding (TBS-CONF-008)")
def run_command(partner_id: str | None, partners_file: str | None, system_id: str | None, roles: tuple[str, ...],
                transport: str | None, endpoint: str | None, credential_env: str | None,
                ca_file: str | None, fmt: str, out_dir: str | None, issuer: str, kit_system_id: str | None,
                kit_key_env: str | None, kit_key_id: str, sut_key_env: str | None, sut_key_id: str | None,
                documents: str | None, attestation: str | None, sut_pulls: bool, wait_seconds: float,
                page_limit: int, only: tuple[str, ...], system_name: str | None, signing_key: str | None,
                valid_days: int, spec_version: str, delta_from: str | None, record: bool) -> None:
    """Run the suite against one system and issue its signed certificate (--record: and record it).

    Name the system either with --partner (everything from the registry) or with --system-id,
    --role, --transport and --endpoint."""
    if partner_id:
        from .onboard import OnboardingError, partner_session_config
        from tongban.registry import RegistryError, load_registry

        try:
            registry = load_registry(partners_file)
            base = partner_session_config(registry, registry.get(partner_id).id, roles)
        except (RegistryError, OnboardingError, KeyError) as exc:
            _fail(str(exc).strip("'\""))
        for option, given, registered in (("--system-id", system_id, base.system_id),
                                          ("--endpoint", endpoint, base.endpoint),
                                          ("--transport", transport and binding_of(transport), base.binding)):
            if given and given != registered:
                _fail(f"{option} {given} contradicts the registry's {registered} for {base.system_id}; "
                      "drop the option or fix partners.yaml")
        system_id, roles, endpoint, transport = base.system_id, base.roles, base.endpoint, base.binding
        ca_file = ca_file or base.ca_file
        system_name = system_name or base.system_name
        documents = documents or (str(base.documents_dir) if base.documents_dir else None)
        registry_token, registry_sut_keys = base.token, base.sut_keys
        kit_system_id = kit_system_id or base.kit_system_id
    else:
        missing = [o for o, v in (("--system-id", system_id), ("--role", roles), ("--endpoint", endpoint)) if not v]
        if missing:
            _fail(f"name the system with --partner ID, or give {', '.join(missing)}")
        transport = transport or "rest"
        registry_token, registry_sut_keys = None, {}
        _warn_if_registry_differs(system_id, binding_of(transport), endpoint, partners_file)
    assert system_id and endpoint and transport
    token = registry_token
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
            system_id=system_id, roles=tuple(roles), binding=binding_of(transport), endpoint=endpoint, token=token,
            ca_file=ca_file, kit_system_id=kit_system_id or issuer, issuer=issuer, page_limit=page_limit,
            documents_dir=Path(documents) if documents else None, attestations=attestations,
            kit_key=(kit_key_id, kit_key) if kit_key else None,
            sut_keys={sut_key_id or "default": sut_key} if sut_key else registry_sut_keys, sut_pulls=sut_pulls,
            wait_seconds=wait_seconds, system_name=system_name, valid_days=valid_days, spec_version=spec_version)
    except ValueError as exc:
        _fail(str(exc))
    if record and only:
        _fail("--record needs a complete session: a partial one (--only) certifies nothing")
    key = _issuer_key(signing_key)
    console = err if fmt == "json" else out
    if delta_from and only:
        _fail("a delta session is a complete session: --only cannot be combined with --delta-from")
    if delta_from and spec_version == "TBS-1.0":
        _fail("--delta-from certifies TBS-1.1 on a TBS-1.0 certificate: give --spec TBS-1.1")
    console.print(f"[bold]{spec_version} conformance[/] {escape(system_id)} over {config.binding} at "
                  f"{escape(endpoint)}; roles {', '.join(roles)}"
                  + (f"; delta on {escape(delta_from)}" if delta_from else ""))

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from .suite import catalogue

    planned = [t for t in catalogue(spec_version) if not only or t.test_id in only]
    bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   console=console, transient=True)
    task = bar.add_task("conformance tests", total=len(planned))

    def progress(item: TestRun) -> None:
        result = item.result.result.value
        reason = f" — {escape(item.result.reason[:120])}" if item.result.reason else ""
        if item.carried_over:
            reason = " — carried over"
        bar.console.print(f"  {item.test_id:<6} [{STYLE[result]}]{result:<5}[/] {item.test.level.value:<6} "
                          f"{', '.join(item.roles)}{reason}")
        bar.update(task, advance=1, description=f"conformance tests (last: {item.test_id})")

    try:
        with bar:
            outcome = certify(config, Path(out_dir) if out_dir else None, only=set(only) or None, progress=progress,
                              signing_key=key, delta_from=Path(delta_from) if delta_from else None)
    except CannotRun as exc:
        _fail(str(exc))
    _summary(console, outcome)
    if record and outcome.exit_code != EXIT_COULD_NOT_RUN:
        from .admission import CertificateError, record_certificate
        from tongban.store.cli import open_store

        try:
            recorded = record_certificate(open_store(), outcome.certificate)
        except CertificateError as exc:
            _fail(f"the certificate could not be recorded: {exc}")
        console.print(f"recorded in the store: {', '.join(recorded) or 'nothing new'} over {config.binding} "
                      f"(admitted: {', '.join(r for r, v in outcome.run.role_verdicts().items() if v.value == 'CONFORMANT') or 'none'})")
    elif outcome.exit_code != EXIT_COULD_NOT_RUN and outcome.run.conformant:
        console.print("not recorded: the bus syncs it only once recorded (rerun with --record)")
    if fmt == "json":
        click.echo(json.dumps(outcome.certificate, ensure_ascii=False, indent=2))
    sys.exit(outcome.exit_code)


def _warn_if_registry_differs(system_id: str, binding: str, endpoint: str, partners_file: str | None) -> None:
    """A certificate admits the binding tested only: say so when the registry syncs the system
    over another transport or at another endpoint."""
    from tongban.registry import RegistryError, load_registry

    try:
        partner = load_registry(partners_file).get(system_id)
    except (RegistryError, KeyError, OSError):
        return
    registered = binding_of(partner.transport)
    if registered != binding:
        err.print(f"[yellow]warning:[/] the registry syncs {escape(system_id)} over {registered}, this run tests "
                  f"{binding}: its certificate will not admit {registered} traffic (TBS-CONF-008)")
    elif partner.endpoint.rstrip("/") != endpoint.rstrip("/"):
        err.print(f"[yellow]warning:[/] the registry's endpoint for {escape(system_id)} is "
                  f"{escape(partner.endpoint)}, not {escape(endpoint)}")


def _issuer_key(path: str | None) -> Any:
    from tongban.store.config import home_dir

    from .signing import SigningKeyError, load_or_create_issuer_key

    try:
        return load_or_create_issuer_key(Path(path) if path else home_dir() / "conformance" / "issuer-key.pem")
    except (SigningKeyError, OSError) as exc:
        _fail(f"--signing-key: {exc}")


def _summary(console: Any, outcome: Any) -> None:
    """Verdicts, then why: every SHALL test that did not pass with its full reason."""
    from .results import Level

    delta = outcome.run.delta
    for role, verdict in outcome.run.role_verdicts().items():
        colour = "green" if verdict.value == "CONFORMANT" else "red"
        how = ""
        if delta is not None:
            ran = sum(1 for r in outcome.run.runs if role in r.roles and not r.carried_over)
            carried = sum(1 for r in outcome.run.runs if role in r.roles and r.carried_over)
            how = (f" (in full: {escape(delta.full[role])})" if role in delta.full
                   else f" (delta on {delta.based_on}: {ran} test(s) run, {carried} carried over)")
        console.print(f"[bold]{role}[/]: [{colour}]{verdict.value}[/]{how}")
    failing = [r for r in outcome.run.runs if r.test.level == Level.SHALL and r.result.result.value in
               ("FAIL", "SKIP", "ERROR")]
    if failing:
        console.print(f"[bold red]{len(failing)} SHALL test(s) did not pass[/] — why:")
        for r in failing:
            reqs = ", ".join(r.requirement_ids[:4]) + (" …" if len(r.requirement_ids) > 4 else "")
            console.print(f"  [bold]{r.test_id}[/] {r.result.result.value} ({', '.join(r.roles)}; {reqs}): "
                          f"{escape(r.result.reason or r.test.description)}")
    if outcome.outputs is not None:
        console.print(f"written: {outcome.outputs.report_file}, {outcome.outputs.certificate_file}, "
                      f"{outcome.outputs.html_file}")
    if outcome.run.harness_failed:
        console.print("[bold magenta]the harness failed in at least one test (ERROR): rerun the session[/]")


@conformance.command("verify")
@click.argument("folder", type=click.Path(exists=True, file_okay=False))
@click.option("--public-key", type=click.Path(exists=True, dir_okay=False),
              help="the issuer's published Ed25519 public key (PEM or base64): the signature must be made with it")
def verify_command(folder: str, public_key: str | None) -> None:
    """Check certificate.json: its Ed25519 signature, and reportSha256 against report.json (exit 0 ok, 1 not)."""
    from .certificate import verify_directory
    from .signing import SigningKeyError, load_public_key

    trusted = None
    if public_key:
        try:
            trusted = load_public_key(Path(public_key))
        except (SigningKeyError, OSError) as exc:
            _fail(f"--public-key: {exc}")
    problems = verify_directory(Path(folder), trusted_key=trusted)
    if problems:
        for p in problems:
            err.print(f"[red]✗[/] {escape(p)}")
        sys.exit(1)
    cert = json.loads((Path(folder) / "certificate.json").read_text(encoding="utf-8"))
    who = "the issuer's key given" if trusted else f"the embedded key {cert['signature']['keyId']} " \
                                                   "(pass --public-key to pin the issuer)"
    out.print(f"[green]✓[/] {escape(folder)}: signature valid for {who}; reportSha256 matches report.json; "
              f"certificate consistent; valid {cert.get('validFrom')} … {cert.get('validUntil')}")


@conformance.command("issuer-key")
@click.option("--signing-key", type=click.Path(dir_okay=False),
              help="the issuer's Ed25519 private key (PEM)  [default: $TONGBAN_HOME/conformance/issuer-key.pem]")
def issuer_key_command(signing_key: str | None) -> None:
    """Print the issuer's public key (PEM): what a third party passes to verify --public-key."""
    from .signing import public_pem

    click.echo(public_pem(_issuer_key(signing_key)), nl=False)


@conformance.command("list")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.option("--spec", "spec_version", type=click.Choice(["TBS-1.0", "TBS-1.1"]), default="TBS-1.0", show_default=True,
              help="the catalogue of this version (TBS-1.1 adds COM-08)")
def list_command(fmt: str, spec_version: str) -> None:
    """The test catalogue (§20.2)."""
    from rich.table import Table

    from .suite import CATALOGUES

    classes = CATALOGUES[spec_version]

    if fmt == "json":
        click.echo(json.dumps([{"testId": t.test_id, "level": t.level.value, "roles": list(t.roles),
                                "bindings": list(t.bindings), "requirementIds": list(t.requirement_ids),
                                "bindingRequirements": {b: list(r) for b, r in t.binding_requirements.items()},
                                "description": t.description} for t in (cls() for cls in classes)],
                              ensure_ascii=False, indent=2))
        return

    table = Table(title=f"{spec_version} test catalogue")
    for col in ("test", "level", "roles", "bindings", "requirements", "procedure"):
        table.add_column(col)
    for cls in classes:
        t = cls()
        reqs = list(t.requirement_ids) + [f"{r} [{b}]" for b, rs in t.binding_requirements.items() for r in rs]
        table.add_row(t.test_id, t.level.value, ", ".join(t.roles), ", ".join(t.bindings),
                      ", ".join(reqs[:6]) + (" …" if len(reqs) > 6 else ""), t.description)
    out.print(table)
