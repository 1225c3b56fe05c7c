"""``tongban sftp serve|keygen``: the file-drop binding's SFTP drop server, from the partner registry.

TBS-SEC-001 for FILE: one SFTP account per sender and drop root. Every ``filedrop`` partner
with ``sftp_authorized_keys`` gets an account named by its ``systemCode``, authenticated by
those public keys and confined to its drop root (the partner's ``endpoint``); the server
authenticates itself with ``bus.sftp_host_key_file``. The drop roots stay local folders that
``tongban sync`` and the gateway collect as before. The registry is re-read when the file
changes, so a new sender or a rotated key is admitted without a restart.
"""
from __future__ import annotations

import logging
import os
import signal
import threading
from pathlib import Path

import click

from tongban.console import err, fail, out
from tongban.registry import Registry, RegistryError, Transport, load_registry, registry_path, watch_registry
from tongban.registry_cli import partners_option

log = logging.getLogger(__name__)


def sftp_accounts(registry: Registry, *, provision: bool = True) -> list:
    """One account per ``filedrop`` partner with keys; ``provision`` creates the drop root's
    ``inbox``, ``archive`` and ``rejected`` folders of its datasets first (TBS-FILE-001: the
    receiver provisions them; a sender can create no folder over SFTP)."""
    from tongban.connectors.filedrop.names import ARCHIVE, INBOX, REJECTED
    from tongban.connectors.filedrop.sftp import SftpAccount

    accounts = []
    for partner in registry.partners:
        if partner.transport is not Transport.FILEDROP or not partner.sftp_authorized_keys:
            continue
        root = Path(partner.endpoint)
        if provision:
            for folder in (INBOX, ARCHIVE, REJECTED):
                for dataset in partner.datasets:
                    (root / folder / dataset).mkdir(parents=True, exist_ok=True)
        accounts.append(SftpAccount(partner.system_code, root, partner.sftp_authorized_keys))
    return accounts


def read_host_key(path: str | os.PathLike[str]) -> str:
    """The host key's text, checked to be an OpenSSH private key; a clear error otherwise."""
    import asyncssh

    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
        asyncssh.import_private_key(text)
    except FileNotFoundError:
        raise ValueError(f"SFTP host key file not found: {file} (create one with `tongban sftp keygen {file}`)")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read the SFTP host key {file}: {exc}")
    except (asyncssh.KeyImportError, ValueError) as exc:
        raise ValueError(f"{file} is not an unencrypted OpenSSH private key: {exc}")
    return text


@click.group()
def sftp() -> None:
    """The file-drop binding's SFTP drop server (one account per sender and drop root, TBS-SEC-001)."""


@sftp.command("serve")
@partners_option
@click.option("--host", default="127.0.0.1", show_default=True, help="address to listen on")
@click.option("--port", type=int, default=2222, show_default=True, help="port to listen on (0: any free port)")
@click.option("--host-key-file", type=click.Path(dir_okay=False),
              help="the server's host key (default: bus.sftp_host_key_file of the registry)")
@click.option("--reload-interval", type=float, default=2.0, show_default=True,
              help="seconds between checks whether the registry file changed (accounts and keys re-read)")
def serve(partners_file: str | None, host: str, port: int, host_key_file: str | None, reload_interval: float) -> None:
    """Serve the registry's file-drop partners' drop roots over SFTP until SIGTERM."""
    from tongban.connectors.filedrop.sftp import SftpDropServer

    logging.basicConfig(level="WARNING", format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        registry = load_registry(partners_file)
    except RegistryError as exc:
        fail(str(exc))
    key_file = host_key_file or registry.bus.sftp_host_key_file
    if not key_file:
        fail("no SFTP host key: set bus.sftp_host_key_file in the registry or pass --host-key-file "
             "(`tongban sftp keygen FILE` makes one)")
    try:
        host_key = read_host_key(key_file)
    except ValueError as exc:
        fail(str(exc))
    accounts = sftp_accounts(registry)
    if not accounts:
        fail(f"{registry.path}: no filedrop partner has sftp_authorized_keys, so there is no SFTP account to serve")
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    server = SftpDropServer(accounts, host_key, host=host, port=port)
    try:
        server.start()
    except OSError as exc:
        fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}")
    out.print(f"SFTP drop server {server.url}; host key {server.host_public_key}", soft_wrap=True)
    for account in accounts:
        out.print(f"  account {account.username} → {account.drop_root} ({len(account.authorized_keys)} key(s))",
                  soft_wrap=True)
    def reload(changed: Registry) -> None:
        server.set_accounts(sftp_accounts(changed))
        out.print(f"registry reloaded: {len(server.accounts)} account(s)")

    def refused(exc: Exception) -> None:
        err.print(f"registry changed but not reloaded (the previous accounts stay): {exc}", soft_wrap=True)

    try:
        watch_registry(registry_path(partners_file), stop, reload_interval, reload, refused,
                       errors=(RegistryError, ValueError))
    finally:
        server.stop()
        out.print("SFTP drop server stopped")



@sftp.command("keygen")
@click.argument("key_file", type=click.Path(dir_okay=False))
def keygen(key_file: str) -> None:
    """Write a new Ed25519 private key (mode 0600) and print its public key line.

    For the server's host key (bus.sftp_host_key_file), or a sender's key whose public line
    goes into its registry entry's sftp_authorized_keys.
    """
    from tongban.connectors.filedrop.sftp import generate_key, public_key_text

    path = Path(key_file)
    if path.exists():
        fail(f"{path} exists; a key is never overwritten (remove it first to replace it)")
    key = generate_key()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(key)
    click.echo(public_key_text(key))
