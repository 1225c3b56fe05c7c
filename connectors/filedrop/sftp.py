"""The file-drop binding over SFTP (TBS-SEC-001: one SFTP account per sender and drop root).

:class:`SftpDropServer` is the receiver's SFTP gateway: an SSH server (asyncssh) on which
every sender has one account, named by its ``systemCode`` and authenticated by the public
keys configured for it, and whose SFTP session is confined to that sender's drop root:

- paths are resolved inside the drop root (``..`` and absolute paths cannot climb out);
- a path that passes through a symbolic link is refused, whether the link points inside
  or outside the drop root, so a link placed on the server cannot lead anywhere;
- the sender may write, rename and remove only files directly in ``inbox/{dataset}/``
  (TBS-FILE-001: "the sender writes only in inbox/; only the receiver moves files"), and
  may create no links and no directories; it may read its acknowledgements in
  ``archive/`` and ``rejected/``.

The drop roots stay ordinary local folders: :class:`~.receiver.FileDropReceiver` scans
them exactly as before. :class:`SftpDropFiles` is the sender's side, a
:class:`~.dropfiles.DropFiles` the :class:`~.writer.FileDropWriter` writes through.

asyncssh runs on its own asyncio loop in a background thread, so synchronous code (the
writer, the tests) uses both sides like any other blocking API.
"""
from __future__ import annotations

import asyncio
import logging
import os
import posixpath
import socket
import threading
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Awaitable, Callable, Mapping, Sequence, TypeVar
from urllib.parse import urlsplit

import asyncssh

from .names import INBOX, PART_SUFFIX, is_drop_name

__all__ = ["SftpAccount", "SftpDropServer", "SftpDropFiles", "generate_key", "public_key_text"]

log = logging.getLogger(__name__)

T = TypeVar("T")


def generate_key() -> str:
    """A new Ed25519 private key in OpenSSH format (for a sender, or a server host key)."""
    return asyncssh.generate_private_key("ssh-ed25519").export_private_key().decode()


def public_key_text(private_key: str) -> str:
    """The OpenSSH public key line of a private key."""
    return asyncssh.import_private_key(private_key).export_public_key().decode().strip()


@dataclass(frozen=True)
class SftpAccount:
    """One sender's account: user name (its ``systemCode``), drop root, authorized public keys
    (OpenSSH lines; two during a key rotation)."""

    username: str
    drop_root: Path
    authorized_keys: tuple[str, ...]


class _LoopThread:
    """An asyncio loop in a daemon thread, and a way to run coroutines on it."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self._thread.start()

    def run(self, coro: Awaitable[T], timeout: float | None = 30.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)  # type: ignore[arg-type]

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
        if not self.loop.is_running():
            self.loop.close()


# -- the server ------------------------------------------------------------------------------

class _DropRootSftp(asyncssh.SFTPServer):
    """An SFTP session confined to one drop root (see the module docstring)."""

    def __init__(self, chan: asyncssh.SSHServerChannel, root: Path) -> None:
        super().__init__(chan, chroot=os.fsencode(root))
        self._root = os.fsencode(os.path.realpath(root))

    def map_path(self, path: bytes) -> bytes:
        local = super().map_path(path)  # normalised and joined under the root: no "..", no absolute escape
        if os.path.realpath(local) != os.path.normpath(local):
            raise asyncssh.SFTPPermissionDenied("symbolic links are not followed in a drop root")
        return local

    def _writable(self, path: bytes) -> bytes:
        """``inbox/{dataset}/{name}`` with an existing dataset folder, or refused."""
        local = self.map_path(path)
        relative = PurePosixPath(os.fsdecode(local[len(self._root):]).lstrip("/"))
        parts = relative.parts
        name = parts[-1] if parts else ""
        stem = name[: -len(PART_SUFFIX)] if name.endswith(PART_SUFFIX) else name
        if len(parts) != 3 or parts[0] != INBOX or not is_drop_name(stem) \
                or not os.path.isdir(os.path.join(self._root, os.fsencode(INBOX), os.fsencode(parts[1]))):
            raise asyncssh.SFTPPermissionDenied("a sender writes only files in inbox/{dataset}/ (TBS-FILE-001)")
        return local

    def open(self, path: bytes, pflags: int, attrs: asyncssh.SFTPAttrs) -> object:
        if pflags & (asyncssh.FXF_WRITE | asyncssh.FXF_APPEND | asyncssh.FXF_CREAT | asyncssh.FXF_TRUNC):
            self._writable(path)
        return super().open(path, pflags, attrs)

    def open56(self, path: bytes, desired_access: int, flags: int, attrs: asyncssh.SFTPAttrs) -> object:
        if desired_access & (asyncssh.ACE4_WRITE_DATA | asyncssh.ACE4_APPEND_DATA) or \
                (flags & asyncssh.FXF_ACCESS_DISPOSITION) != asyncssh.FXF_OPEN_EXISTING:
            self._writable(path)
        return super().open56(path, desired_access, flags, attrs)

    def remove(self, path: bytes) -> None:
        self._writable(path)
        return super().remove(path)

    def rename(self, oldpath: bytes, newpath: bytes) -> None:
        self._writable(oldpath)
        self._writable(newpath)
        return super().rename(oldpath, newpath)

    def posix_rename(self, oldpath: bytes, newpath: bytes) -> None:
        self._writable(oldpath)
        self._writable(newpath)
        return super().posix_rename(oldpath, newpath)

    def _refuse(self, *args: Any, **kwargs: Any) -> None:
        raise asyncssh.SFTPPermissionDenied("not permitted in a drop root")

    # The receiver provisions and owns the tree; a sender makes no links or directories and
    # changes no attributes.
    mkdir = rmdir = symlink = link = setstat = lsetstat = fsetstat = _refuse  # type: ignore[assignment]


class _SshServer(asyncssh.SSHServer):
    def __init__(self, accounts: Mapping[str, SftpAccount]) -> None:
        self._accounts = accounts
        self._conn: asyncssh.SSHServerConnection | None = None

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self._conn = conn

    def begin_auth(self, username: str) -> bool:
        account = self._accounts.get(username)
        keys = asyncssh.import_authorized_keys("\n".join(account.authorized_keys)) if account else None
        if self._conn is not None:
            self._conn.set_authorized_keys(keys)  # an unknown user gets no key: always refused
        return True

    def password_auth_supported(self) -> bool:
        return False

    def public_key_auth_supported(self) -> bool:
        return True


class SftpDropServer:
    """``with SftpDropServer(accounts, host_key) as srv: srv.url``.

    ``accounts`` may be replaced while running (:meth:`set_accounts`): a new sender or a
    rotated key is admitted without a restart.
    """

    def __init__(self, accounts: Sequence[SftpAccount], host_key: str, *, host: str = "127.0.0.1",
                 port: int = 0) -> None:
        self.host = host
        self.port = port
        self.host_key = host_key
        self._accounts: dict[str, SftpAccount] = {}
        self.set_accounts(accounts)
        self._loop: _LoopThread | None = None
        self._acceptor: Any = None

    def set_accounts(self, accounts: Sequence[SftpAccount]) -> None:
        table = {}
        for account in accounts:
            if account.username in table:
                raise ValueError(f"two SFTP accounts named {account.username!r}")
            if not Path(account.drop_root).is_dir():
                raise ValueError(f"the drop root of {account.username!r} does not exist: {account.drop_root}")
            table[account.username] = account
        self._accounts = table

    @property
    def accounts(self) -> Mapping[str, SftpAccount]:
        return dict(self._accounts)

    @property
    def url(self) -> str:
        return f"sftp://{self.host}:{self.port}"

    @property
    def host_public_key(self) -> str:
        return public_key_text(self.host_key)

    def start(self) -> "SftpDropServer":
        if self._loop is not None:
            return self
        self._loop = _LoopThread(f"sftp-{self.port}")
        accounts = lambda: self._accounts  # noqa: E731 – read at each login: set_accounts takes effect at once

        def sftp_factory(chan: asyncssh.SSHServerChannel) -> asyncssh.SFTPServer:
            account = accounts()[chan.get_extra_info("username")]
            return _DropRootSftp(chan, Path(account.drop_root))

        async def listen() -> Any:
            return await asyncssh.listen(
                self.host, self.port, server_host_keys=[asyncssh.import_private_key(self.host_key)],
                server_factory=lambda: _SshServer(accounts()), sftp_factory=sftp_factory,
                allow_scp=False, agent_forwarding=False, x11_forwarding=False, process_factory=None,
                line_editor=False)

        self._acceptor = self._loop.run(listen())
        self.port = self._acceptor.sockets[0].getsockname()[1]
        log.info("SFTP drop server listening on %s", self.url)
        return self

    def stop(self) -> None:
        if self._loop is None:
            return
        self._acceptor.close()
        try:
            self._loop.run(self._acceptor.wait_closed(), timeout=5)
        except Exception:  # noqa: BLE001 – best effort; the loop goes anyway
            log.warning("SFTP server did not close cleanly", exc_info=True)
        self._loop.close()
        self._loop = None

    def __enter__(self) -> "SftpDropServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# -- the sender's side -----------------------------------------------------------------------

class SftpDropFiles:
    """A drop root reached over SFTP: ``sftp://{systemCode}@host:port``, the client's private
    key, and the server's public host key (known from configuration, never trusted on first
    use)."""

    def __init__(self, url: str, *, private_key: str, host_public_key: str, timeout: float = 30.0) -> None:
        parts = urlsplit(url)
        if parts.scheme != "sftp" or not parts.hostname or not parts.username:
            raise ValueError(f"not an sftp://user@host:port URL: {url!r}")
        if parts.password:
            raise ValueError("SFTP senders authenticate with a key; no password in the URL")
        self.location = f"sftp://{parts.username}@{parts.hostname}:{parts.port or 22}"
        self.root = self.location
        self.timeout = timeout
        self._parts = parts
        self._key = asyncssh.import_private_key(private_key)
        self._known = asyncssh.import_known_hosts(
            f"[{parts.hostname}]:{parts.port or 22} {host_public_key}\n{parts.hostname} {host_public_key}\n")
        self._loop = _LoopThread("sftp-client")
        self._conn: asyncssh.SSHClientConnection | None = None
        self._sftp: asyncssh.SFTPClient | None = None
        self._lock = threading.Lock()

    def run(self, make: Callable[[asyncssh.SFTPClient], Awaitable[T]]) -> T:
        """Run ``make(sftp_client)`` on the (re)opened connection; SFTP and SSH failures
        become :class:`OSError` naming the drop root."""
        async def call() -> T:
            if self._sftp is None:
                self._conn = await asyncssh.connect(
                    self._parts.hostname, self._parts.port or 22, username=self._parts.username,
                    client_keys=[self._key], known_hosts=self._known, agent_path=None, config=None,
                    preferred_auth="publickey")
                self._sftp = await self._conn.start_sftp_client()
            return await make(self._sftp)

        with self._lock:
            try:
                return self._loop.run(call(), self.timeout)
            except (asyncssh.DisconnectError, ConnectionError) as exc:
                self._sftp = self._conn = None
                raise OSError(f"SFTP {self.location}: {exc}") from exc
            except asyncssh.SFTPError as exc:
                raise OSError(f"SFTP {self.location}: {exc.reason}") from exc

    @staticmethod
    def _path(relative: PurePosixPath | str) -> str:
        return posixpath.join("/", str(relative))

    def is_dir(self, relative: PurePosixPath | str) -> bool:
        return self.run(lambda sftp: sftp.isdir(self._path(relative)))

    def exists(self, relative: PurePosixPath | str) -> bool:
        return self.run(lambda sftp: sftp.exists(self._path(relative)))

    def read(self, relative: PurePosixPath | str) -> bytes | None:
        async def read(sftp: asyncssh.SFTPClient) -> bytes | None:
            try:
                async with sftp.open(self._path(relative), "rb") as f:
                    return await f.read()
            except asyncssh.SFTPNoSuchFile:
                return None
        return self.run(read)

    def names(self, relative: PurePosixPath | str) -> list[str]:
        async def names(sftp: asyncssh.SFTPClient) -> list[str]:
            try:
                return sorted(str(n) for n in await sftp.listdir(self._path(relative)) if n not in (".", ".."))
            except asyncssh.SFTPNoSuchFile:
                return []
        return self.run(names)

    def write_atomic(self, relative: PurePosixPath | str, data: bytes) -> PurePosixPath:
        """``{name}.part``, then rename (TBS-FILE-005)."""
        final = self._path(relative)
        temp = final + PART_SUFFIX

        async def write(sftp: asyncssh.SFTPClient) -> None:
            async with sftp.open(temp, "wb") as f:
                await f.write(data)
            await sftp.rename(temp, final)
        self.run(write)
        return PurePosixPath(final)

    def path(self, relative: PurePosixPath | str) -> PurePosixPath:
        return PurePosixPath(self._path(relative))

    def close(self) -> None:
        async def close() -> None:
            if self._conn is not None:
                self._conn.close()
                await self._conn.wait_closed()
        try:
            self._loop.run(close(), 5)
        finally:
            self._sftp = self._conn = None
            self._loop.close()

    def __enter__(self) -> "SftpDropFiles":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
