"""The receiving side of the file-drop binding as an :class:`~tongban.connectors.base.Inbox`.

The file binding has no changes feed: a partner pushes batches into its drop root and the
bus collects them. ``collect`` is one scan of the inbox for a dataset, each complete batch
handed to the service given (which validates, stores and acknowledges) and moved to
``archive/`` or ``rejected/`` (TBS-FILE-009).
"""
from __future__ import annotations

from pathlib import Path

from tongban.connectors.base import SystemService

from .receiver import FileDropReceiver, ScanStats

__all__ = ["ArchivedBatches", "FileDropInbox"]


class ArchivedBatches:
    """TBS-FILE-008 memory kept where the batches are: a batch is processed once its
    acknowledgement (``archive/``) or report (``rejected/``) exists. Should the process die
    between the service's commit and that file, the rescan is answered from the service's
    replay memory (TBS-SEC-005) without reprocessing."""

    def __init__(self, drop_root: Path) -> None:
        self.root = Path(drop_root)

    def is_processed(self, sender: str, dataset: str, batch_id: str) -> bool:
        return (self.root / "archive" / dataset / f"{batch_id}.ack.json").exists() or \
            (self.root / "rejected" / dataset / f"{batch_id}.report.json").exists()

    def mark_processed(self, sender: str, dataset: str, batch_id: str) -> None:
        pass  # the ack or report file the receiver writes is the mark


class FileDropInbox:
    """One partner's drop root, read by the system ``own_id`` (the acknowledging sender)."""

    binding = "FILE"

    def __init__(self, drop_root: str | Path, *, own_id: str, owner: str) -> None:
        self.drop_root = Path(drop_root)
        self.own_id = own_id
        self.owner = owner

    def collect(self, dataset: str, service: SystemService) -> ScanStats:
        drops = FileDropReceiver(self.drop_root, service, own_id=self.own_id, owner=self.owner,
                                 processed=ArchivedBatches(self.drop_root), datasets=(dataset,))
        drops.provision()
        return drops.scan_once()

    def close(self) -> None:
        """Nothing to release: the binding holds no connection."""
