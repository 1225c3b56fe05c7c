"""Build the sync DAGs: one task group per partner from the registry, each in its own pool.

DAG files stay a few lines; every task calls the same engine entry point as the CLI.
Retries happen only for transport errors: a validation failure is quarantined by the
engine, and any other failure is final (``AirflowFailException``).
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import Asset, Param, dag, task, task_group

from tongban.airflow_ext.pools import pool_name
from tongban.registry import Registry, RegistryError, load_registry
from tongban.model.clock import CST_ZONE_NAME
from tongban.model.datasets import ANNOUNCED

START = pendulum.datetime(2026, 1, 1, tz=CST_ZONE_NAME)


def asset_for(dataset: str) -> Asset:
    return Asset(f"tongban://store/{dataset}")



def load_registry_for_dags() -> Registry | None:
    """The registry the DAG's structure comes from: the hook's (connection, then TONGBAN_PARTNERS);
    None when it cannot be loaded (the DAG then holds one failing task, see build_sync_dag)."""
    from tongban.airflow_ext.hooks import TongbanHook

    try:
        return load_registry(TongbanHook().registry_path())
    except RegistryError:
        return None


def task_being_started() -> tuple[str, str] | None:
    """(dag id, task id) while a worker's task runner parses the DAG file to run that task.

    Without the registry the DAG cannot have its partner tasks, and the task runner, not
    finding the task, reschedules it ([workers] missing_dag_retries times, a minute apart)
    before it fails with "Task not found". Knowing which task is starting, the DAG gives it
    a body that fails at once with the registry's problem."""
    import sys

    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_name == "parse" and \
                frame.f_globals.get("__name__") == "airflow.sdk.execution_time.task_runner":
            ti = getattr(frame.f_locals.get("what"), "ti", None)
            return (ti.dag_id, ti.task_id) if ti is not None else None
        frame = frame.f_back
    return None


def run_sync(partner_id: str, dataset: str, params: dict[str, Any]) -> dict[str, Any]:
    """Task body: one incremental sync of one (partner, dataset)."""
    from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

    from tongban.airflow_ext.hooks import TongbanHook
    from tongban.sync.engine import NotAdmitted, SyncFailed

    only = (params or {}).get("partner") or ""
    if only and only != partner_id:
        raise AirflowSkipException(f"manual run for {only}")
    wanted = (params or {}).get("datasets") or []
    if wanted and dataset not in wanted:
        raise AirflowSkipException(f"manual run for datasets {wanted}")
    since = (params or {}).get("since") or None if only else None
    try:
        return TongbanHook().sync_engine().sync(partner_id, dataset, since=since).as_dict()
    except NotAdmitted as exc:
        raise AirflowSkipException(str(exc)) from exc  # not a failure: the partner is not certified yet
    except SyncFailed as exc:
        if exc.retriable:
            raise  # transport error: Airflow retries with back-off
        raise AirflowFailException(str(exc)) from exc


def run_publish(partner_id: str) -> dict[str, Any]:
    """Task body: push the basic catalog down to one CATALOG_CONSUMER (certified ones only)."""
    from airflow.sdk.exceptions import AirflowSkipException

    from tongban.airflow_ext.hooks import TongbanHook
    from tongban.conformance.admission import is_admitted
    from tongban.connectors.base import ConnectorError
    from tongban.sync.publish import publish_catalog

    store, registry = TongbanHook().get_conn()
    partner = registry.get(partner_id)
    if registry.bus.admission == "enforce" and not is_admitted(store, partner.id, "CATALOG_CONSUMER",
                                                               partner.spec_version, partner.transport):
        raise AirflowSkipException(f"{partner.id} holds no current CONFORMANT certificate for CATALOG_CONSUMER "
                                   f"over {getattr(partner.transport, 'value', partner.transport)} (TBS-CONF-008)")
    try:
        return publish_catalog(store, registry, partner).as_dict()
    except ConnectorError as exc:
        if exc.retriable:
            raise
        from airflow.sdk.exceptions import AirflowFailException

        raise AirflowFailException(str(exc)) from exc


def summarize_run(outcomes: list[tuple[tuple[str, str], dict[str, Any] | None]],
                  params: dict[str, Any]) -> dict[str, Any]:
    """Task body of ``summarize``: add up the partner reports of this run.

    A skipped sync task leaves no report. Among the (partner, dataset) pairs this run was asked
    for (all, or the ``partner``/``datasets`` params), a missing report means the admission gate
    refused the partner (TBS-CONF-008) or an earlier step of the same partner was refused. Those
    are listed in the log; when *every* asked pair was refused, the run synced nothing and fails,
    so that neither the run nor its Asset events (emitted only on success) look like a sync."""
    import logging

    from airflow.sdk.exceptions import AirflowFailException

    only = params.get("partner") or ""
    wanted = params.get("datasets") or []
    asked = [(pid, ds, r) for (pid, ds), r in outcomes
             if (not only or only == pid) and (not wanted or ds in wanted)]
    done = [r for _, _, r in asked if r]
    skipped = [f"{pid} {ds}" for pid, ds, r in asked if not r]
    log = logging.getLogger("tongban.dags")
    if skipped:
        log.warning("skipped, not admitted (TBS-CONF-008; `tongban status` lists them): %s", "; ".join(skipped))
    if asked and not done:
        raise AirflowFailException(
            f"nothing synced: every partner of this run was skipped for admission (TBS-CONF-008): "
            f"{'; '.join(skipped)}. Certify them (onboard_partner DAG or tongban conformance run --record)")
    return {"runs": len(done), "pulled": sum(r["pulled"] for r in done),
            "stored": sum(r["stored"] + r["released"] for r in done),
            "rejected": sum(r["rejected"] for r in done), "skipped": skipped, "reports": done}


def sync_schedule(default: str = "@hourly") -> str | None:
    """The sync DAGs' schedule: ``TONGBAN_SYNC_SCHEDULE`` (a cron or preset; ``none``: only
    triggered runs, as the cluster's integration test wants), else ``default``."""
    import os

    value = os.environ.get("TONGBAN_SYNC_SCHEDULE", default).strip()
    return None if value.lower() in ("", "none") else value


def build_sync_dag(dag_id: str, datasets: tuple[str, ...], *, description: str, schedule: Any = None):
    """A DAG syncing ``datasets`` (in order) from every registry partner that provides them."""
    schedule = schedule or sync_schedule()
    registry = load_registry_for_dags()
    partners = [p for p in registry.partners if any(registry.pulls(p, d) for d in datasets)] if registry else []
    outlets = [asset_for(d) for d in datasets]
    # the basic catalog is pushed down to every REST/SOAP CATALOG_CONSUMER after the pulls
    consumers = [c for c in registry.partners if "CATALOG_CONSUMER" in {r.value for r in c.roles}
                 and c.transport.value in ("rest", "soap")] if registry and "catalog" in datasets else []

    @dag(dag_id=dag_id, description=description, schedule=schedule, start_date=START, catchup=False,
         max_active_runs=1, tags=["tongban", "sync"],
         params={
             "partner": Param("", type="string", title="Only this partner (system id); empty = all"),
             "datasets": Param(list(datasets), type="array", items={"type": "string", "enum": list(datasets)},
                               title="Datasets to sync"),
             "since": Param("", type="string", title="Start from this cursor (with a single partner)"),
         })
    def sync_dag():
        results = []
        labels: list[tuple[str, str]] = []  # (partner id, dataset) of each entry of results
        if registry is None:
            # dag-processor: one failing registry_error task, visible in the UI. Worker: the task
            # it was sent to run, failing at once (never retried) with the registry's problem.
            starting = task_being_started()
            task_id = starting[1] if starting and starting[0] == dag_id else "registry_error"

            @task(task_id=task_id, retries=0)
            def registry_error() -> None:
                from airflow.sdk.exceptions import AirflowFailException

                from tongban.airflow_ext.hooks import RegistryUnavailable, TongbanHook

                try:
                    TongbanHook().registry()  # raises with file, line and field
                except RegistryUnavailable as exc:
                    raise AirflowFailException(str(exc)) from None

            registry_error()
            return
        # first, in the default pool: a missing partner pool fails the run here, by name, instead
        # of leaving the partner's tasks `scheduled` for ever (the scheduler only logs a warning)
        used_pools = sorted({pool_name(p.slug) for p in partners} | {pool_name(c.slug) for c in consumers})

        @task(task_id="check_pools", retries=0)
        def check_pools_task() -> dict[str, Any]:
            from tongban.airflow_ext.pools import check_pools

            return check_pools(used_pools)

        pools_checked = check_pools_task()
        for partner in partners:
            @task_group(group_id=f"sync_{partner.slug}")
            def partner_group(pid: str = partner.id, slug: str = partner.slug, retries: int = partner.retries,
                              provided: tuple[str, ...] = tuple(d for d in datasets if registry.pulls(partner, d))):
                previous = None
                for dataset in datasets:
                    if dataset not in provided:
                        continue

                    @task(task_id=f"sync_{dataset.replace('-', '_')}", pool=pool_name(slug), retries=retries,
                          retry_delay=timedelta(seconds=30), retry_exponential_backoff=True)
                    def sync_one(dataset_name: str = dataset, params: dict[str, Any] | None = None) -> dict[str, Any]:
                        return run_sync(pid, dataset_name, params or {})

                    current = sync_one()
                    if previous is not None:
                        previous >> current
                    previous = current
                    results.append(current)
                    labels.append((pid, dataset))

            pools_checked >> partner_group()

        @task(task_id="summarize", outlets=outlets, trigger_rule="none_failed")
        def summarize(*reports: dict[str, Any] | None, params: dict[str, Any] | None = None) -> dict[str, Any]:
            return summarize_run(list(zip(labels, reports)), params or {})

        summary = summarize(*results)
        if any(d in ANNOUNCED for d in datasets):
            summary >> publish_events()
        for consumer in consumers:  # the basic catalog flows down once the pulls are in
            @task(task_id=f"publish_catalog_{consumer.slug}", pool=pool_name(consumer.slug),
                  retries=consumer.retries, retry_delay=timedelta(seconds=30))
            def publish(pid: str = consumer.id) -> dict[str, Any]:
                return run_publish(pid)

            summary >> publish()

    return sync_dag()


def publish_events_body() -> dict[str, Any]:
    """Drain the transactional outbox to the MQTT broker named by TONGBAN_MQTT_URL."""
    import os

    from airflow.sdk.exceptions import AirflowSkipException

    from tongban.airflow_ext.hooks import TongbanHook
    from tongban.sync.outbox import publish_outbox

    url = os.environ.get("TONGBAN_MQTT_URL")
    if not url:
        raise AirflowSkipException("TONGBAN_MQTT_URL is not set: events stay in the outbox")
    store, registry = TongbanHook().get_conn()
    key = os.environ.get(registry.bus.hmac_key_env or "") if registry.bus.hmac_key_env else None
    result = publish_outbox(store, registry.bus.system_id, url, key_id=registry.bus.key_id if key else None,
                            key=key.encode() if key else None)
    if result.stopped_by is not None:
        raise result.stopped_by  # broker down: retried; the rows stay pending meanwhile
    return {"published": len(result.sent), "failed": len(result.failed)}


@task(task_id="publish_events", retries=3, retry_delay=timedelta(seconds=30))
def publish_events() -> dict[str, Any]:
    return publish_events_body()
