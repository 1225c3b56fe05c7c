"""Recompute the supervision metrics and rewrite the static report (under the artifacts location
of the tongban connection or TONGBAN_ARTIFACTS, else $TONGBAN_HOME/report)
whenever any sync DAG has updated the store (Asset-triggered, no clock schedule)."""
import operator
from functools import reduce

from airflow.sdk import Asset, dag, task

from tongban.airflow_ext.dagkit import START, asset_for
from tongban.model.datasets import DATASETS

STORE_ASSETS = [asset_for(d) for d in DATASETS]
REPORT = Asset("tongban://monitoring/report")


@dag(dag_id="metrics_refresh", description="Refresh the monitoring report after any sync",
     schedule=[reduce(operator.or_, STORE_ASSETS)],
     start_date=START, catchup=False, max_active_runs=1, tags=["tongban", "monitoring"])
def metrics_refresh():
    @task(task_id="refresh_report", outlets=[REPORT])
    def refresh() -> dict:
        from tongban.airflow_ext.hooks import TongbanHook  # heavy imports inside the task
        from tongban.monitoring.refresh import refresh_report

        from tongban.airflow_ext.artifacts import staging

        hook = TongbanHook()  # the store and registry the sync tasks use
        # the report goes to the configured artifacts location (shared folder or object storage)
        with staging(hook.artifacts_location(), "report") as (folder, published):
            summary = refresh_report(folder, registry_file=hook.registry_path(), database_url=hook.store_url())
        if published:
            summary["published"] = published[0]
        return summary

    refresh()


metrics_refresh()
