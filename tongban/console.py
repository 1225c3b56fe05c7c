"""Shared rich console helpers for the CLI (errors go to stderr, tables to stdout)."""
from __future__ import annotations

import sys

from rich.console import Console

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


def fail(message: str, code: int = 2) -> "NoReturn":  # type: ignore[name-defined]
    err.print(f"[bold red]error:[/] {message}")
    sys.exit(code)
