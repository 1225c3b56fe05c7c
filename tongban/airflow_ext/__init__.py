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


from tongban.airflow_provider import get_provider_info  # noqa: E402,F401  (the entry point's target)
