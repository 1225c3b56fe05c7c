"""The thin Airflow layer: a hook owning connection details and the DAG builder.

This is the only package under ``tongban`` that imports Airflow; importing it without
Airflow installed raises :class:`MissingDependencyError` with the install hint.
"""


class MissingDependencyError(ImportError):
    pass


try:
    import airflow.sdk  # noqa: F401  (presence check only)
except ModuleNotFoundError as exc:  # pragma: no cover - exercised only without the extra
    raise MissingDependencyError("tongban's Airflow layer needs apache-airflow: pip install 'tongban[airflow]'") from exc


def get_provider_info() -> dict:
    """Airflow provider metadata (connection type ``tongban``)."""
    return {
        "package-name": "tongban",
        "name": "tongban",
        "description": "TBS-1.0 data-exchange bus: sync partner systems into the tongban store",
        "connection-types": [{
            "connection-type": "tongban",
            "hook-class-name": "tongban.airflow_ext.hooks.TongbanHook",
            "hook-name": "tongban store and partner registry",
            # 3.x declarative connection form: the keys the hook reads from the extra
            "conn-fields": {
                "database_url": {"label": "Store URL",
                                 "schema": {"type": ["string", "null"],
                                            "description": "postgresql+psycopg://… (shared by every worker)"}},
                "partners": {"label": "Partner registry",
                             "schema": {"type": ["string", "null"],
                                        "description": "path of partners.yaml on the workers"}},
                "artifacts": {"label": "Reports and certificates",
                              "schema": {"type": ["string", "null"],
                                         "description": "shared folder or object storage URL (s3://…, file://…)"}},
            },
            "ui-field-behaviour": {"hidden-fields": ["host", "port", "login", "password", "schema"],
                                   "relabeling": {}, "placeholders": {}},
        }],
    }
