"""Recompute the supervision metrics and rewrite the static report under $TONGBAN_HOME/report
whenever any sync DAG has updated the store (Asset-triggered, no clock schedule)."""
from airflow.sdk import Asset, dag, task

from tongban.airflow_ext.dagkit import START, asset_for

STORE_ASSETS = [asset_for(d) for d in ("catalog", "case", "case-event", "result", "evaluation")]
REPORT = Asset("tongban://monitoring/report")


@dag(dag_id="metrics_refresh", description="Refresh the monitoring report after any sync",
     schedule=[STORE_ASSETS[0] | STORE_ASSETS[1] | STORE_ASSETS[2] | STORE_ASSETS[3] | STORE_ASSETS[4]],
     start_date=START, catchup=False, max_active_runs=1, tags=["tongban", "monitoring"])
def metrics_refresh():
    @task(task_id="refresh_report", outlets=[REPORT])
    def refresh() -> dict:
        from tongban.monitoring.refresh import refresh_report  # heavy imports inside the task

        return refresh_report()

    refresh()


metrics_refresh()
