"""``tongban sandbox up | down | status``: the generated province on loopback, in the background.

``up`` starts ``python -m tongban.sandbox.serve`` in its own session (so the terminal's
signals and a closed shell do not reach it), its output going to ``sandbox.log``, and
records its pid in ``sandbox.pid``; it returns once the child wrote ``ready.json`` (every
server answers). Servers speak HTTPS with the sandbox's local CA (TBS-REST-001); plain HTTP
only with ``--insecure-http``. ``down`` sends SIGTERM, waits, and SIGKILLs after a timeout.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape

from tongban.model.datasets import DATASETS
from tongban.sandbox.serve import READY_FILE

PID_FILE = "sandbox.pid"
LOG_FILE = "sandbox.log"
TRANSPORTS = ("rest", "soap", "filedrop", "sftp", "mqtt")
START_TIMEOUT_S = 180.0

out = Console(highlight=False, soft_wrap=True)  # paths and commands are copied: never wrapped
err = Console(stderr=True, highlight=False, soft_wrap=True)


class BadArgument(click.ClickException):
    """A refused request, with the exit status of a usage error."""

    exit_code = 2


def default_folder() -> Path:
    from tongban.store.config import home_dir

    return home_dir() / "sandbox"


def _folder(value: str | None) -> Path:
    return (Path(value) if value else default_folder()).expanduser().resolve()


def _transports(value: str) -> tuple[str, ...]:
    chosen = tuple(t.strip().lower() for t in value.split(",") if t.strip())
    unknown = sorted(set(chosen) - set(TRANSPORTS))
    if not chosen or unknown:
        raise BadArgument(f"unknown transport {', '.join(unknown) or '(none given)'}: choose from "
                          f"{', '.join(TRANSPORTS)}")
    return tuple(dict.fromkeys(chosen))


def _check_size(cities: int, counties: int) -> None:
    from tongban.sandbox.regions import GUANGDONG

    if cities > len(GUANGDONG.cities):
        raise BadArgument(f"--cities must be within 1..{len(GUANGDONG.cities)}")
    most = min(len(c.counties) for c in GUANGDONG.cities[:cities])
    if counties > most:
        raise BadArgument(f"--counties must be within 1..{most} for {cities} cities")


# -- the process ------------------------------------------------------------------------------

def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie does not: it has exited and only waits to be reaped)."""
    try:
        reaped, _ = os.waitpid(pid, os.WNOHANG)  # our own child (``up`` in the same process)
        if reaped == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _is_sandbox(pid: int) -> bool:
    """Guards ``down`` against a recycled pid: the process must be our child entry point."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True  # no /proc: trust the pid file
    return b"tongban.sandbox.serve" in cmdline


def running_pid(folder: Path) -> int | None:
    """The pid of the sandbox running in ``folder``, or None (a stale pid file is removed)."""
    pid_file = folder / PID_FILE
    try:
        pid = int(pid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    if _alive(pid) and _is_sandbox(pid):
        return pid
    pid_file.unlink(missing_ok=True)
    return None


def _read_ready(folder: Path) -> dict[str, Any] | None:
    try:
        return json.loads((folder / READY_FILE).read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return None


def _log_tail(folder: Path, lines: int = 15) -> str:
    try:
        return "\n".join((folder / LOG_FILE).read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return ""


def _show(ready: dict[str, Any], folder: Path, fmt: str = "text") -> None:
    if fmt == "json":
        click.echo(json.dumps({**ready, "log": str(folder / LOG_FILE)}, ensure_ascii=False, indent=2))
        return
    from tongban.console import ID, OPTIONAL, TEXT, fitted_table

    # identifiers and endpoints are copied into the next command: never cut inside
    out.print(fitted_table(f"sandbox (seed {ready['seed']}, pid {ready['pid']})",
                           [("system id", ID), ("transport", TEXT), ("endpoint", ID), ("level", OPTIONAL)],
                           [[s["id"], s["transport"], s["endpoint"], s["level"]] for s in ready["systems"]],
                           console=out))
    out.print(f"registry:  {ready['registry']}")
    out.print(f"secrets:   {ready['secrets']}")
    if ready.get("caFile"):
        out.print(f"local CA:  {ready['caFile']}")
    else:
        out.print("[yellow]plain HTTP (--insecure-http): development only[/]")
    out.print(f"log:       {folder / LOG_FILE}")
    out.print("use it:")
    out.print(f"  export TONGBAN_PARTNERS={ready['registry']}")
    out.print(f"  set -a; . {ready['secrets']}; set +a")
    out.print("  tongban partners check --probe")
    if ready.get("admission", "enforce") == "enforce":
        out.print("  the bus syncs certified partners only: tongban conformance run --partner ID --record "
                  "(or up --admission off)")


# -- commands ---------------------------------------------------------------------------------

folder_option = click.option("--folder", type=click.Path(file_okay=False), default=None,
                             help="sandbox folder (default: $TONGBAN_HOME/sandbox)")


@click.group()
def sandbox() -> None:
    """Simulated province, city and county systems on loopback (HTTPS with a local CA)."""


@sandbox.command("up")
@click.option("--cities", type=click.IntRange(min=1), default=2, show_default=True)
@click.option("--counties", type=click.IntRange(min=1), default=2, show_default=True, help="counties per city")
@click.option("--transports", default=None, help="comma list of rest,soap,filedrop,sftp (file drop "
              "through an SFTP gateway),mqtt (pushes over MQTT with `tongban sandbox push`); default rest, "
              "at province scale rest,soap,filedrop (systems take them in turn)")
@click.option("--scale", type=click.Choice(["demo", "province"]), default="demo", show_default=True,
              help="province: Guangdong's hub, 6 provincial departments, 21 cities and 122 county-level divisions "
                   "(real GB/T 2260 codes), records computed per page, all served by one process")
@click.option("--systems", type=click.IntRange(min=1), default=None,
              help="province scale: only the first N systems (hub, departments, then each city and its counties)")
@click.option("--catalog", type=click.IntRange(min=0), default=2_000, show_default=True,
              help="province scale: catalog entries in the whole province")
@click.option("--cases", type=click.IntRange(min=0), default=1_000, show_default=True,
              help="province scale: cases in the whole province")
@click.option("--events-per-case", type=click.IntRange(3, 8), default=5, show_default=True,
              help="province scale: case events per case")
@click.option("--results", type=click.IntRange(min=0), default=500, show_default=True,
              help="province scale: results in the whole province")
@click.option("--evaluations", type=click.IntRange(min=0), default=500, show_default=True,
              help="province scale: evaluations in the whole province")
@click.option("--broker", default=None, help="MQTT broker URL of the mqtt systems (default: an embedded broker)")
@click.option("--seed", type=int, default=7, show_default=True, help="data seed (same seed, same records)")
@folder_option
@click.option("--insecure-http", is_flag=True, help="plain HTTP instead of HTTPS (development only)")
@click.option("--hierarchy", type=click.Choice(["direct", "relay", "mixed"]), default="direct", show_default=True,
              help="direct: the bus pulls every county (三级数据直连); relay: counties' case-linked records come "
                   "through their city; mixed: the first city relays")
@click.option("--admission", type=click.Choice(["enforce", "off"]), default="enforce", show_default=True,
              help="the registry's certification gate (TBS-CONF-008); off for development only")
@click.option("--timeout", type=float, default=START_TIMEOUT_S, show_default=True,
              help="seconds to wait until every server answers")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              help="json: the ready document (systems, endpoints, registry, secrets file) on stdout")
def up(cities: int, counties: int, transports: str | None, scale: str, systems: int | None, catalog: int,
       cases: int, events_per_case: int, results: int, evaluations: int, broker: str | None, seed: int,
       folder: str | None, insecure_http: bool, hierarchy: str, admission: str, timeout: float, fmt: str) -> None:
    """Start the sandbox in the background and write partners.yaml and secrets.env."""
    chosen = _transports(transports or ("rest,soap,filedrop" if scale == "province" else "rest"))
    if scale == "province":
        from tongban.sandbox.scale import ProvinceScale
        from tongban.sandbox.scale_serve import SCALE_TRANSPORTS

        if set(chosen) - set(SCALE_TRANSPORTS):
            raise BadArgument(f"at province scale the transports are {', '.join(SCALE_TRANSPORTS)}")
        if hierarchy != "direct":
            raise BadArgument("at province scale every system is pulled directly (--hierarchy direct)")
        most = len(ProvinceScale(seed).systems)
        if systems is not None and systems > most:
            raise BadArgument(f"--systems must be within 1..{most}")
        if cases and not catalog:
            raise BadArgument("--cases need catalog entries (--catalog) to be reported against")
    else:
        _check_size(cities, counties)
    where = _folder(folder)
    pid = running_pid(where)
    if pid is not None:
        raise BadArgument(f"a sandbox is already running in {where} (pid {pid}); `tongban sandbox down` first")
    where.mkdir(parents=True, exist_ok=True)
    (where / READY_FILE).unlink(missing_ok=True)
    command = [sys.executable, "-m", "tongban.sandbox.serve", "--folder", str(where), "--seed", str(seed),
               "--cities", str(cities), "--counties", str(counties), "--transports", ",".join(chosen),
               "--hierarchy", hierarchy, "--admission", admission]
    if scale == "province":
        command += ["--scale", "province", "--catalog", str(catalog), "--cases", str(cases),
                    "--events-per-case", str(events_per_case), "--results", str(results),
                    "--evaluations", str(evaluations)]
        if systems is not None:
            command += ["--systems", str(systems)]
    if insecure_http:
        command.append("--insecure-http")
    if broker:
        command += ["--broker", broker]
    with open(where / LOG_FILE, "ab") as log:
        child = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                 start_new_session=True, close_fds=True)
    (where / PID_FILE).write_text(f"{child.pid}\n")
    deadline = time.monotonic() + timeout
    size = (f"province scale, {systems or 'all'} systems" if scale == "province"
            else f"{cities} cities × {counties} counties")
    with err.status(f"starting the sandbox (seed {seed}, {size}, {', '.join(chosen)})…"):
        while (ready := _read_ready(where)) is None or ready.get("pid") != child.pid:
            if child.poll() is not None:
                (where / PID_FILE).unlink(missing_ok=True)
                err.print(f"[red]error:[/] the sandbox exited with status {child.returncode}:\n"
                          f"{escape(_log_tail(where))}")
                raise SystemExit(1)
            if time.monotonic() > deadline:
                _terminate(child.pid, where, grace=10.0)
                err.print(f"[red]error:[/] the sandbox did not become ready within {timeout:g} s; see "
                          f"{where / LOG_FILE}")
                raise SystemExit(1)
            time.sleep(0.1)
    _show(ready, where, fmt)


def _terminate(pid: int, folder: Path, *, grace: float) -> bool:
    """SIGTERM the child's session, SIGKILL after ``grace`` seconds; True if it had to be killed."""
    def signal_group(signum: int) -> None:
        try:
            os.killpg(pid, signum)  # the child leads its own session (start_new_session)
        except ProcessLookupError:
            pass
        except PermissionError:
            os.kill(pid, signum)

    signal_group(signal.SIGTERM)
    deadline = time.monotonic() + grace
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    killed = _alive(pid)
    if killed:
        signal_group(signal.SIGKILL)
        while _alive(pid):
            time.sleep(0.05)
    (folder / PID_FILE).unlink(missing_ok=True)
    (folder / READY_FILE).unlink(missing_ok=True)
    return killed


@sandbox.command("down")
@folder_option
@click.option("--timeout", type=float, default=15.0, show_default=True, help="seconds before SIGKILL")
def down(folder: str | None, timeout: float) -> None:
    """Stop the sandbox started by `up` in this folder."""
    where = _folder(folder)
    pid = running_pid(where)
    if pid is None:
        out.print(f"no sandbox is running in {where}; nothing to stop")
        return
    killed = _terminate(pid, where, grace=timeout)
    if killed:
        out.print(f"[yellow]sandbox (pid {pid}) did not stop within {timeout:g} s: killed[/]")
    else:
        out.print(f"sandbox (pid {pid}) stopped")


@sandbox.command("status")
@folder_option
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
def status(folder: str | None, fmt: str) -> None:
    """Whether a sandbox runs in this folder, and what it serves."""
    where = _folder(folder)
    pid = running_pid(where)
    if pid is None:
        out.print(f"no sandbox is running in {where}")
        raise SystemExit(3)
    ready = _read_ready(where)
    if ready is None:
        out.print(f"sandbox (pid {pid}) is starting in {where}")
        return
    if fmt == "text":
        out.print(f"sandbox running in {where}")
    _show(ready, where, fmt)


@sandbox.command("change")
@folder_option
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
def change(folder: str | None, fmt: str) -> None:
    """Province scale: one change round — 1 % of catalog entries and cases get a new version."""
    from tongban.sandbox.scale_serve import advance_round

    where = _folder(folder)
    ready = _read_ready(where) if running_pid(where) is not None else None
    if ready is None:
        raise BadArgument(f"no sandbox is running in {where}; `tongban sandbox up --scale province` first")
    if ready.get("scale") != "province":
        raise BadArgument("change rounds are for the province-scale sandbox (`up --scale province`)")
    k, changed = advance_round(where, ready)
    if fmt == "json":
        click.echo(json.dumps({"round": k, "changed": changed}))
    else:
        out.print(f"change round {k}: {changed} records changed")


@sandbox.command("push")
@folder_option
@click.option("--gateway", "gateway_url", default=None, help="the bus gateway's URL (REST and SOAP pushes), e.g. "
              "https://127.0.0.1:8443")
@click.option("--binding", type=click.Choice(["rest", "soap", "mqtt", "file"]), default=None,
              help="push over this binding (default: each system over its own transport: rest, soap, mqtt, "
                   "file for filedrop)")
@click.option("--partner", "partner_ids", multiple=True, help="only this system (id or code; repeatable)")
@click.option("--dataset", "datasets", multiple=True,
              type=click.Choice(DATASETS),
              help="only this dataset (repeatable; default every dataset the system provides)")
@click.option("--ca-file", type=click.Path(dir_okay=False), default=None,
              help="CA of the gateway's certificate (default: the sandbox's local CA)")
@click.option("--batch", type=click.IntRange(1, 1000), default=200, show_default=True, help="records per envelope")
@click.option("--timeout", type=float, default=60.0, show_default=True,
              help="seconds to wait for each acknowledgement")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
def push(folder: str | None, gateway_url: str | None, binding: str | None, partner_ids: tuple[str, ...],
         datasets: tuple[str, ...], ca_file: str | None, batch: int, timeout: float, fmt: str) -> None:
    """The sandbox's systems push their records to the bus gateway and wait for the acknowledgements."""
    from tongban.registry import RegistryError, load_registry
    from tongban.sandbox.generate import generate_province
    from tongban.sandbox.push import BINDING_OF_TRANSPORT, envelopes_of, open_pusher, push_envelopes

    where = _folder(folder)
    ready = _read_ready(where) if running_pid(where) is not None else None
    if ready is None:
        raise BadArgument(f"no sandbox is running in {where}; `tongban sandbox up` first")
    if ready.get("scale") == "province":
        raise BadArgument("the province-scale sandbox does not push yet: its systems are pulled (tongban sync --all)")
    _load_secrets(Path(ready["secrets"]))
    try:
        registry = load_registry(ready["registry"])
    except RegistryError as exc:
        raise BadArgument(str(exc)) from None
    wanted = set(partner_ids)
    partners = [p for p in registry.partners if p.transport.value != "frontdb"
                and (not wanted or p.id in wanted or p.system_code in wanted)]
    if wanted and not partners:
        raise BadArgument(f"no sandbox system {', '.join(sorted(wanted))} pushes (frontdb systems do not)")
    data = generate_province(ready["seed"], cities=ready["cities"], counties_per_city=ready["counties"])
    plans = []
    for p in partners:
        how = binding or BINDING_OF_TRANSPORT[p.transport.value]
        if how in ("rest", "soap") and not gateway_url:
            raise BadArgument(f"{p.id} pushes over {how}: give the gateway's URL (--gateway)")
        if how == "file" and p.transport.value != "filedrop":
            raise BadArgument(f"{p.id} has no drop root (transport {p.transport.value}): file pushes are for "
                              "filedrop systems")
        if how == "mqtt" and p.transport.value != "mqtt":
            raise BadArgument(f"{p.id} is no MQTT sender (transport {p.transport.value}): the gateway subscribes for "
                              "the registry's MQTT senders (up --transports …,mqtt)")
        plans.append((p, how))
    rows, failed = [], False
    for p, how in plans:
        pusher = open_pusher(p, how, gateway_url=gateway_url, ca_file=ca_file or ready.get("caFile"),
                             ack_timeout=timeout, receiver=registry.bus.system_id)
        try:
            tally = push_envelopes(pusher, envelopes_of(data.systems[p.id], how, receiver=registry.bus.system_id,
                                                        datasets=datasets or None, batch=batch),
                                   attempts=3, pause=1.0)
        finally:
            pusher.close()
        failed = failed or bool(tally.refusals)
        rows.append({"system": p.id, "binding": how.upper(), "envelopes": tally.envelopes,
                     "statuses": tally.statuses, "counts": tally.counts, "retries": tally.retries,
                     "refused": tally.refusals})
    if fmt == "json":
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
    else:
        _show_pushes(rows)
    if failed:
        raise SystemExit(1)


def _load_secrets(path: Path) -> None:
    """The sandbox's secrets.env into the environment (what `set -a; . secrets.env` does)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return
    for line in text.splitlines():
        name, sep, value = line.partition("=")
        if sep and name.strip():
            os.environ[name.strip()] = value  # the running sandbox's secrets win, as sourcing them does


def _show_pushes(rows: list[dict[str, Any]]) -> None:
    from tongban.console import ID, TEXT, fitted_table

    table = [[r["system"], r["binding"], str(r["envelopes"]),
              " ".join(f"{k} {v}" for k, v in sorted(r["statuses"].items())) or "—",
              " ".join(f"{k} {r['counts'].get(k, 0)}" for k in ("stored", "duplicate", "stale", "held", "rejected")),
              str(len(r["refused"]))] for r in rows]
    out.print(fitted_table("pushes to the bus", [("system", ID), ("binding", TEXT), ("envelopes", TEXT),
                                                 ("acknowledged", TEXT), ("records", TEXT), ("refused", TEXT)],
                           table, console=out))
    for r in rows:
        for refusal in r["refused"][:3]:
            err.print(f"[red]refused[/] {escape(r['system'])}: {escape(refusal)}")
