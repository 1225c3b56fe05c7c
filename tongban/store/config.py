"""Where the store lives: ``TONGBAN_DATABASE_URL``, else a SQLite file under ``.tongban/``."""
from __future__ import annotations

import os
from pathlib import Path

ENV_URL = "TONGBAN_DATABASE_URL"
ENV_HOME = "TONGBAN_HOME"


def home_dir() -> Path:
    """The working folder for state (``.tongban/`` in the current directory by default)."""
    return Path(os.environ.get(ENV_HOME) or Path.cwd() / ".tongban")


def database_url() -> str:
    url = os.environ.get(ENV_URL)
    if url:
        return url
    home = home_dir()
    home.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{home / 'tongban.db'}"
