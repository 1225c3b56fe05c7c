"""The gateway's file-drop watcher: collects every file-drop partner's drop root as batches arrive.

Each pass looks into ``inbox/{dataset}/`` of every file-drop partner and, where a manifest is
waiting, runs the same collection ``tongban sync`` runs (:meth:`SyncEngine.sync`): admission
(TBS-CONF-008, over FILE), the feed's sync lock (another gateway process collecting the same
drop root makes this one skip it), a run record for ``tongban status``, the envelopes handed to
the gateway's service (counted in its metrics), archive and acknowledgement files. A batch of a
partner that is not admitted stays in the inbox, unprocessed and unacknowledged, until the
partner is certified; the refusal is logged, counted and recorded (a SKIPPED sync run) once.
"""
from __future__ import annotations

import logging
import threading
from pathlib import Path

from tongban.connectors.filedrop.names import INBOX
from tongban.registry import Registry, Transport
from tongban.store.locks import AlreadyRunning
from tongban.store.store import Store
from tongban.sync.engine import NotAdmitted, SyncEngine, SyncFailed
from tongban.sync.receiver import BusReceiver

from .service import Admission, GatewayService

log = logging.getLogger(__name__)


class DropWatcher:
    def __init__(self, store: Store, registry: Registry, service: GatewayService, *,
                 admission: Admission | None, interval: float = 2.0) -> None:
        self.registry = registry
        self.service = service
        self.interval = interval
        # batch work waits for a busy store as long as the store's own timeout (a push over HTTP
        # gives up after a few seconds); the counts go to the gateway's metrics all the same
        batch_service = GatewayService(BusReceiver(store, registry, lock_wait_s=None), admission=admission,
                                       metrics=service.metrics)
        self.engine = SyncEngine(store, registry, trigger="gateway", admission=admission, receiver=batch_service)
        self.partners = [p for p in registry.partners if p.transport is Transport.FILEDROP]
        self._stop = threading.Event()
        self._refused: set[tuple[str, str]] = set()
        self._thread = threading.Thread(target=self._run, name="tongban-gateway-filedrop", daemon=True)
        self.passes = 0

    def start(self) -> "DropWatcher":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.scan_once()
            except Exception:  # noqa: BLE001 - the watcher outlives one bad pass
                log.exception("file-drop pass failed")
            self.passes += 1
            self._stop.wait(self.interval)

    def scan_once(self) -> int:
        """One pass over every drop root; returns the number of collections run."""
        runs = 0
        for partner in self.partners:
            for dataset in partner.datasets:
                if self._stop.is_set():
                    return runs
                inbox = Path(partner.endpoint) / INBOX / dataset
                if not any(inbox.glob("*.manifest.json")):
                    continue
                if (partner.id, dataset) in self._refused:
                    # still waiting for a certificate: the refusal was logged, counted and
                    # recorded (a SKIPPED run) once; check again without recording it each pass
                    try:
                        self.engine.check_admission(partner, dataset)
                    except NotAdmitted:
                        continue
                try:
                    self.engine.sync(partner.id, dataset)
                    runs += 1
                    self._refused.discard((partner.id, dataset))
                except NotAdmitted as exc:
                    if (partner.id, dataset) not in self._refused:
                        log.warning("file drop of %s %s left in its inbox: %s", partner.id, dataset, exc)
                        self._refused.add((partner.id, dataset))
                        self.service.metrics.refused(partner.id, "FILE", "NOT_ADMITTED")
                except AlreadyRunning:
                    pass  # another process is collecting this drop root now
                except SyncFailed as exc:
                    log.warning("file drop of %s %s failed: %s", partner.id, dataset, exc)
                except ValueError as exc:  # not collected directly (direct: false) and the like
                    log.debug("file drop of %s %s skipped: %s", partner.id, dataset, exc)
        return runs
