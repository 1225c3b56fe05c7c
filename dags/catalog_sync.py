"""Service item catalog sync: implementation lists up from every CATALOG_PROVIDER partner
(field authority and versions per TBS-SYNC-009/-010/-014)."""
from tongban.airflow_ext.dagkit import build_sync_dag

build_sync_dag("catalog_sync", ("catalog",),
               description="Pull the service item catalog (事项目录/实施清单) from every catalog provider")
