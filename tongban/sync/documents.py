"""Result documents (TBS-RES-003): the bytes travel by file drop, and the bus checks their
SHA-256 and size against the stored Result. A mismatch is an operational incident — it is
recorded on the result and reported on the sync run — never a record verdict."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from tongban.model.canonical import canonical_sha256
from tongban.store.schema import ResultRecord
from tongban.store.store import Store


@dataclass
class DocumentCheck:
    verified: int = 0
    mismatched: int = 0
    missing: int = 0
    mismatches: tuple[str, ...] = ()


def document_file(folder: Path, case_no: str, cert_no: str) -> Path:
    return folder / canonical_sha256([case_no, cert_no])


def verify_documents(store: Store, partner_id: str, folder: str | Path) -> DocumentCheck:
    """Check every not yet verified document of ``partner_id``'s results against its file."""
    root = Path(folder)
    check = DocumentCheck()
    bad: list[str] = []
    with store.transaction() as s:
        rows = s.execute(select(ResultRecord).where(ResultRecord.source == partner_id,
                                                    ResultRecord.document_sha256.is_not(None),
                                                    ResultRecord.document_verified.is_(None))).scalars().all()
        for row in rows:
            path = document_file(root, row.case_no, row.cert_no)
            if not path.is_file() or path.is_symlink():
                check.missing += 1
                continue
            digest, size = hashlib.sha256(), 0
            with open(path, "rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(chunk)
                    size += len(chunk)
            doc = json.loads(row.content)["document"]
            row.document_verified = digest.hexdigest() == doc["sha256"] and size == doc["size"]
            if row.document_verified:
                check.verified += 1
            else:
                check.mismatched += 1
                bad.append(f"{row.case_no}/{row.cert_no}")
    check.mismatches = tuple(bad)
    return check
