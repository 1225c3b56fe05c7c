"""Where a sender's drop root is: a local (or mounted) folder, or an SFTP account.

:class:`~.writer.FileDropWriter` writes and reads through this small interface, so the
batch format, naming and acknowledgement handling above it are the same for both.
Paths are relative to the drop root (``inbox/case/{batchId}.jsonl``).
"""
from __future__ import annotations

from pathlib import Path, PurePath, PurePosixPath
from typing import Protocol, runtime_checkable

from .acks import write_bytes_atomic

__all__ = ["DropFiles", "LocalDropFiles"]


@runtime_checkable
class DropFiles(Protocol):
    root: Path | str   # the drop root as a sender names it (a folder, or sftp://code@host:port)

    def is_dir(self, relative: PurePosixPath) -> bool: ...

    def exists(self, relative: PurePosixPath) -> bool: ...

    def read(self, relative: PurePosixPath) -> bytes | None: ...

    def names(self, relative: PurePosixPath) -> list[str]: ...

    def write_atomic(self, relative: PurePosixPath, data: bytes) -> PurePath: ...

    def path(self, relative: PurePosixPath) -> PurePath: ...


class LocalDropFiles:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def path(self, relative: PurePosixPath) -> Path:
        return self.root / relative

    def is_dir(self, relative: PurePosixPath) -> bool:
        return self.path(relative).is_dir()

    def exists(self, relative: PurePosixPath) -> bool:
        return self.path(relative).exists()

    def read(self, relative: PurePosixPath) -> bytes | None:
        try:
            return self.path(relative).read_bytes()
        except FileNotFoundError:
            return None

    def names(self, relative: PurePosixPath) -> list[str]:
        try:
            return sorted(p.name for p in self.path(relative).iterdir())
        except FileNotFoundError:
            return []

    def write_atomic(self, relative: PurePosixPath, data: bytes) -> Path:
        path = self.path(relative)
        write_bytes_atomic(path, data)
        return path
