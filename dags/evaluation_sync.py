"""Evaluation sync: 好差评 star ratings from every EVALUATION_REPORTER."""
from tongban.airflow_ext.dagkit import build_sync_dag

build_sync_dag("evaluation_sync", ("evaluation",),
               description="Pull evaluations (好差评) from every evaluation reporter")
