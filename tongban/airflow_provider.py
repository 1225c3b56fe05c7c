"""Airflow provider metadata of tongban (the ``apache_airflow_provider`` entry point).

Kept outside :mod:`tongban.airflow_ext` and free of Airflow imports: Airflow loads entry points
while it configures itself, which may happen in the middle of importing ``tongban.airflow_ext``
(a circular import if the metadata lived there).
"""


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
