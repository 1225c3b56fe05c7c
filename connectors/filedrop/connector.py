"""The sending side of the file-drop binding as a :class:`~tongban.connectors.base.Pusher`.

Only ``push`` exists over a drop root: §17 defines no changes feed and no ``meta``
document, so the connector is no :class:`~tongban.connectors.base.Feed`; the receiving side
is :class:`~tongban.connectors.filedrop.inbox.FileDropInbox`.
"""
from __future__ import annotations

from typing import Any

from tongban.connectors.base import ProtocolError, PushResult, TransportError

from .writer import FileDropWriter

__all__ = ["FileDropConnector"]


class FileDropConnector:
    """Pushes an envelope as one batch and waits for its acknowledgement file.

    A missing ``batch`` is added with ``batchId`` = ``messageId`` (TBS-FILE-004 makes
    ``batch`` mandatory for FILE); the writer then signs the envelope, so an envelope
    arriving without ``batch`` must not carry a signature already unless the writer holds
    no key (then it is refused, because adding ``batch`` would break that signature).
    No acknowledgement within ``ack_timeout`` raises :class:`TransportError`: the sender
    may resend the identical envelope within the skew window (TBS-ENV-033).
    """

    binding = "FILE"

    def __init__(self, writer: FileDropWriter, *, ack_timeout: float = 300.0, poll_interval: float = 0.5) -> None:
        self.writer = writer
        self.ack_timeout = ack_timeout
        self.poll_interval = poll_interval

    def push(self, envelope: dict[str, Any]) -> PushResult:
        if not isinstance(envelope.get("batch"), dict):
            signed = isinstance((envelope.get("integrity") or {}).get("signature"), dict)
            if signed and self.writer.key is None:
                raise ProtocolError("a FILE envelope needs batch; adding it would break the signature",
                                    endpoint=str(self.writer.drop_root), rule_id="TBS-FILE-004")
            envelope = {**envelope, "batch": {"batchId": envelope["messageId"]}}
        try:
            written = self.writer.write_envelope(envelope)
        except (ValueError, FileExistsError) as exc:
            raise ProtocolError(str(exc), endpoint=str(self.writer.drop_root)) from exc
        except OSError as exc:  # drop root unreachable (an unmounted SFTP share, a full disk)
            raise TransportError(str(exc), endpoint=str(self.writer.drop_root)) from exc
        ack = self.writer.wait_for_ack(written.dataset, written.batch_id, message_id=written.message_id,
                                       timeout=self.ack_timeout, poll_interval=self.poll_interval)
        if ack is None:
            raise TransportError(f"no acknowledgement of batch {written.batch_id} within {self.ack_timeout} s",
                                 endpoint=str(self.writer.drop_root))
        return PushResult(ack=ack, request_hash=ack.get("requestHash"),
                          extras={"batchId": written.batch_id,
                                  "requestHashMatches": ack.get("requestHash") == written.request_hash})

    def close(self) -> None:
        """Nothing to release: the binding holds no connection."""
