"""Onboard a partner: run the TBS-1.0 conformance suite against it and record its certificate
(TBS-CONF-006/-008). Triggered by hand with the partner's system id and, optionally, the roles
to certify (default: every role the registry claims for it)."""
from __future__ import annotations

from pathlib import Path

import pendulum
from airflow.sdk import Param, dag, task


@dag(dag_id="onboard_partner", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False,
     tags=["tongban", "conformance"],
     params={"system_id": Param("TB:county:440103:LWZWFW", type="string", title="Partner system id",
                                pattern=r"^TB:(province|city|county|department):[0-9]{6}:[A-Z0-9][A-Z0-9-]{1,31}$"),
             "roles": Param([], type="array", items={"type": "string"}, title="Roles to certify",
                            description="empty: every role the registry claims"),
             "attestations": Param({}, type="object", title="Attestations (TBS-CONF-009)",
                                   description='per test id, what a testing authority attests where the suite '
                                               'cannot observe: {"ER-04": {"result": "PASS", "statement": "...", '
                                               '"evidence": "..."}}')})
def onboard_partner():
    @task(retries=0)
    def certify(params=None) -> dict:
        from tongban.airflow_ext.hooks import TongbanHook   # heavy imports inside the task
        from tongban.conformance.onboard import certify_partner

        from tongban.airflow_ext.artifacts import staging

        hook = TongbanHook()  # the same registry as the sync tasks
        hook.registry()       # a worker without one fails here, saying so
        # reports and certificates go to the configured artifacts location, not this worker's disk
        with staging(hook.artifacts_location(), "conformance") as (folder, published):
            result = certify_partner(params["system_id"], params["roles"], registry_path=hook.registry_path(),
                                     out_root=str(folder) if folder else None,
                                     attestations=params.get("attestations") or None)
        if published and folder is not None:
            result["folder"] = published[0] + "/" + Path(result["folder"]).relative_to(folder).as_posix()
        return result

    @task(retries=1)
    def record(result: dict) -> dict:
        from tongban.airflow_ext.hooks import TongbanHook
        from tongban.conformance.onboard import record_partner_certificate

        recorded = record_partner_certificate(result, database_url=TongbanHook().store_url())
        return {"recorded": recorded, "verdicts": result["verdicts"], "folder": result["folder"]}

    record(certify())


onboard_partner()
