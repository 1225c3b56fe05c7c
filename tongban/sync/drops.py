"""File-drop partners: the bus processes the batches a partner dropped into its drop root.

The file binding has no changes feed; a sync of a file-drop partner is one scan of its
inbox for the dataset, each complete batch handed to the :class:`BusReceiver` (which
validates, stores, acknowledges and writes the ledger entry in one transaction) and moved
to ``archive/`` or ``rejected/`` by the connector's receiver.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from tongban.connectors.filedrop.receiver import FileDropReceiver, ScanStats
from tongban.registry import PartnerConfig
from tongban.sync.outcome import OutcomeCounts
from tongban.sync.receiver import BusReceiver


class ArchivedBatches:
    """TBS-FILE-008 memory kept where the batches are: a batch is processed once its
    acknowledgement (``archive/``) or report (``rejected/``) exists. Should the process die
    between the commit and that file, the rescan is answered from the receiver's replay
    memory (TBS-SEC-005) without reprocessing."""

    def __init__(self, drop_root: Path) -> None:
        self.root = Path(drop_root)

    def is_processed(self, sender: str, dataset: str, batch_id: str) -> bool:
        return (self.root / "archive" / dataset / f"{batch_id}.ack.json").exists() or \
            (self.root / "rejected" / dataset / f"{batch_id}.report.json").exists()

    def mark_processed(self, sender: str, dataset: str, batch_id: str) -> None:
        pass  # the ack or report file the receiver writes is the mark


class CountingReceiver:
    """Passes envelopes to the bus receiver and sums what their acknowledgements say."""

    def __init__(self, receiver: BusReceiver) -> None:
        self.receiver = receiver
        self.counts = OutcomeCounts()
        self.received = 0
        self.envelopes = 0

    def meta(self) -> dict[str, Any]:
        return self.receiver.meta()

    def changes(self, dataset: str, since: str | None, limit: int) -> dict[str, Any]:
        return self.receiver.changes(dataset, since, limit)

    def get_ack(self, message_id: str, caller: str) -> dict[str, Any] | None:
        return self.receiver.get_ack(message_id, caller)

    def receive(self, envelope: dict[str, Any], *, binding: str, request_hash: str,
                authenticated_sender: str | None, binding_dataset: str | None = None,
                topic_region: str | None = None, binding_findings: Sequence[Any] = ()) -> dict[str, Any]:
        ack = self.receiver.receive(envelope, binding=binding, request_hash=request_hash,
                                    authenticated_sender=authenticated_sender, binding_dataset=binding_dataset,
                                    topic_region=topic_region, binding_findings=binding_findings)
        c = ack["counts"]
        self.envelopes += 1
        self.received += c["received"]
        for name in ("stored", "duplicate", "stale", "held", "rejected"):
            setattr(self.counts, name, getattr(self.counts, name) + c[name])
        return ack


def scan_drops(receiver: BusReceiver, partner: PartnerConfig, dataset: str) -> tuple[CountingReceiver, ScanStats]:
    root = Path(partner.endpoint)
    counting = CountingReceiver(receiver)
    drops = FileDropReceiver(root, counting, own_id=receiver.system_id, owner=partner.id,
                             processed=ArchivedBatches(root), datasets=(dataset,))
    drops.provision()
    return counting, drops.scan_once()
