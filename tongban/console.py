"""Shared rich console helpers for the CLI (errors go to stderr, tables to stdout)."""
from __future__ import annotations

import sys
from typing import NoReturn

from rich.console import Console
from rich.markup import escape

# Wide enough for the summary tables when output is piped (rich assumes 80 columns then).
out = Console(highlight=False, width=None if sys.stdout.isatty() else 140)
err = Console(stderr=True, highlight=False, width=None if sys.stderr.isatty() else 140)


def fail(message: str, code: int = 2) -> NoReturn:
    err.print(f"[bold red]error:[/] {escape(message)}")
    sys.exit(code)
