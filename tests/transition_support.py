"""The province in transition (some systems on TBS-1.0 only, some on both) with a store beside it,
as the mixed-version and impact tests start from it."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tongban.registry import load_registry
from tongban.sandbox.runtime import Sandbox
from tongban.store import Store
from tongban.sync.engine import SyncEngine


@contextmanager
def transition_province(folder: Path) -> Iterator[tuple[Sandbox, object, Store, SyncEngine]]:
    sandbox = Sandbox(folder / "sandbox", seed=11, cities=2, counties=2, admission="off", transition=True).start()
    store = Store(f"sqlite:///{folder / 'store.db'}")
    store.upgrade()
    try:
        registry = load_registry(sandbox.registry_file)
        yield sandbox, registry, store, SyncEngine(store, registry, trigger="test")
    finally:
        sandbox.stop()
        store.dispose()


@contextmanager
def pulled_transition_province(folder: Path, transport: str) -> Iterator[tuple[Sandbox, object, Store, SyncEngine, dict]]:
    """The province in transition with every system on ``transport``, every dataset pulled once
    from every partner the bus pulls it from; yields the sync reports by (partner, dataset)."""
    from tongban.model.datasets import DATASETS

    sandbox = Sandbox(folder / "sandbox", seed=11, cities=2, counties=2, admission="off", transition=True,
                      transports=(transport,)).start()
    store = Store(f"sqlite:///{folder / 'store.db'}")
    store.upgrade()
    try:
        registry = load_registry(sandbox.registry_file)
        engine = SyncEngine(store, registry, trigger="test")
        reports = {(p.id, dataset): engine.sync(p.id, dataset) for dataset in DATASETS for p in registry.partners
                   if dataset in p.datasets and registry.pulls(p, dataset)}
        yield sandbox, registry, store, engine, reports
    finally:
        sandbox.stop()
        store.dispose()
