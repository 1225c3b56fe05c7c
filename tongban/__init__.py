"""tongban (一网通办): the data-exchange and interface-standard bus of TBS-1.0.

Layers, dependencies pointing one way:
``dags/`` → ``tongban.sync`` → ``tongban.connectors``, ``tongban.validators``,
``tongban.store`` → ``tongban.model``. Nothing under ``tongban`` imports Airflow except
``tongban.airflow_ext``.
"""
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("tongban")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0+source"
