"""The FRONTDB binding of TBS-LP-1.0: a front-end database (前置库) read and written
through SQLAlchemy, and the legacy profiles that map its rows to TBS-1.0 records."""
