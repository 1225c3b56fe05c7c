"""Result sync: certificates and decision documents (办结结果) from every RESULT_PUBLISHER."""
from tongban.airflow_ext.dagkit import build_sync_dag

build_sync_dag("result_sync", ("result",),
               description="Pull results (证照/决定书) from every result publisher; verify document digests")
