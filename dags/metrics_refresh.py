"""Recompute the supervision metrics and rewrite the static report under $TONGBAN_HOME/report
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

        hook = TongbanHook()  # the store and registry the sync tasks use
        return refresh_report(registry_file=hook.registry_path(), database_url=hook.store_url())

    refresh()


metrics_refresh()
