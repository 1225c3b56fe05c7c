"""Case and case-event sync: county → city → province (or county → province directly)."""
from tongban.airflow_ext.dagkit import build_sync_dag

build_sync_dag("case_sync", ("case", "case-event"),
               description="Pull cases (办件) and their events from every CASE_REPORTER partner")
