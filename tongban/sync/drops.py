"""Partners that push into an inbox (file drop): the bus collects what they left.

A sync of such a partner is one collection pass of its :class:`~tongban.connectors.base.Inbox`
for the dataset, each envelope handed to the :class:`BusReceiver` (which validates, stores,
acknowledges and writes the ledger entry in one transaction) through a
:class:`CountingReceiver` that sums the acknowledgements for the sync report.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from tongban.connectors.base import ReceivedBody
from tongban.connectors.filedrop.inbox import FileDropInbox
from tongban.connectors.filedrop.receiver import ScanStats
from tongban.registry import PartnerConfig
from tongban.sync.outcome import OutcomeCounts
from tongban.sync.receiver import BusReceiver, InFrontOfReceiver


class CountingReceiver(InFrontOfReceiver):
    """Passes envelopes to the bus receiver and sums what their acknowledgements say."""

    def __init__(self, receiver: BusReceiver) -> None:
        super().__init__(receiver)
        self.counts = OutcomeCounts()
        self.received = 0
        self.envelopes = 0

    def receive(self, envelope: dict[str, Any], *, binding: str, request_hash: str,
                authenticated_sender: str | None, binding_dataset: str | None = None,
                topic_region: str | None = None, binding_findings: Sequence[Any] = (),
                received: ReceivedBody | None = None) -> dict[str, Any]:
        ack = self.receiver.receive(envelope, binding=binding, request_hash=request_hash,
                                    authenticated_sender=authenticated_sender, binding_dataset=binding_dataset,
                                    topic_region=topic_region, binding_findings=binding_findings, received=received)
        c = ack["counts"]
        self.envelopes += 1
        self.received += c["received"]
        for name in ("stored", "duplicate", "stale", "held", "rejected"):
            setattr(self.counts, name, getattr(self.counts, name) + c[name])
        return ack


def scan_drops(receiver: BusReceiver, partner: PartnerConfig, dataset: str) -> tuple[CountingReceiver, ScanStats]:
    """One collection pass over a file-drop partner's drop root."""
    counting = CountingReceiver(receiver)
    inbox = FileDropInbox(Path(partner.endpoint), own_id=receiver.system_id, owner=partner.id)
    return counting, inbox.collect(dataset, counting)
