"""Where tasks put reports and certificates: a configured location every reader can reach,
not the disk of whichever worker ran the task.

The location (connection extra ``artifacts`` or ``TONGBAN_ARTIFACTS``) is either a folder
(a shared mount, or ``file://…``) that the task writes into directly, or an object storage URL
(``s3://bucket/tongban``, ``gs://…``; any scheme Airflow's ``ObjectStoragePath`` knows through an
installed provider) that the files are uploaded to after being written to a temporary folder.
"""
from __future__ import annotations

import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


def is_object_storage(location: str) -> bool:
    return "://" in location and not location.startswith("file://")


def local_folder(location: str) -> Path:
    return Path(location.removeprefix("file://"))


@contextmanager
def staging(location: str | None, relative: str) -> Iterator[tuple[Path | None, list[str]]]:
    """A local folder to write ``relative``'s files into, and (filled on exit) where they ended up.

    ``location`` None: (None, …), the caller keeps its own default. A folder: that folder's
    ``relative`` directly. Object storage: a temporary folder uploaded to ``location/relative``
    on a clean exit (nothing is uploaded when the body raised)."""
    published: list[str] = []
    if location is None:
        yield None, published
        return
    if not is_object_storage(location):
        target = local_folder(location) / relative
        target.mkdir(parents=True, exist_ok=True)
        yield target, published
        published.append(str(target))
        return
    from airflow.sdk import ObjectStoragePath

    tmp = Path(tempfile.mkdtemp(prefix="tongban-artifacts-"))
    try:
        yield tmp, published
        base = ObjectStoragePath(location.rstrip("/")) / relative
        for file in sorted(p for p in tmp.rglob("*") if p.is_file()):
            target = base / file.relative_to(tmp).as_posix()
            target.parent.mkdir(parents=True, exist_ok=True)
            with target.open("wb") as out:
                out.write(file.read_bytes())
        published.append(str(base))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
