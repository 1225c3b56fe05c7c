"""Shared rich console helpers for the CLI (errors go to stderr, tables to stdout)."""
from __future__ import annotations

import sys
from typing import NoReturn

import os

from rich.console import Console
from rich.markup import escape
from rich.cells import cell_len
from rich.table import Table

# The terminal's width (or $COLUMNS); piped output without $COLUMNS gets 140 columns (rich
# would assume 80) so that the summary tables stay readable in logs.
_PIPED = None if os.environ.get("COLUMNS") else 140
out = Console(highlight=False, width=None if sys.stdout.isatty() else _PIPED)
err = Console(stderr=True, highlight=False, width=None if sys.stderr.isatty() else _PIPED)


def fail(message: str, code: int = 2) -> NoReturn:
    err.print(f"[bold red]error:[/] {escape(message)}")
    sys.exit(code)


# Column kinds of :func:`fitted_table`: identifiers and URLs are never cut inside (they are
# copied into the next command), text wraps between words, optional columns give way first.
ID, TEXT, OPTIONAL = "id", "text", "optional"


def fitted_table(title: str | None, columns: list[tuple[str, str]], rows: list[list[str]], *,
                 console: Console | None = None, justify: dict[str, str] | None = None) -> Table:
    """A table that fits the console: optional columns are left out (right to left) while the
    narrowest rendering that keeps every identifier whole is wider than the terminal."""
    console = console or out
    justify = justify or {}
    keep = list(range(len(columns)))

    def narrowest(i: int) -> int:
        name, kind = columns[i]
        cells = [str(r[i]) for r in rows] + [name]
        if kind == ID:
            return max(cell_len(c) for c in cells)
        return max((cell_len(w) for c in cells for w in c.split()), default=1)

    def width(indices: list[int]) -> int:
        return sum(narrowest(i) + 3 for i in indices) + 1

    optional = [i for i, (_, kind) in enumerate(columns) if kind == OPTIONAL]
    while width(keep) > console.width and optional:
        keep.remove(optional.pop())
    if width(keep) > console.width:
        # still too narrow for whole identifiers side by side: one block per row instead
        table = Table(title=title, show_header=False)
        table.add_column("field", no_wrap=True, style="bold")
        table.add_column("value", overflow="fold")
        for r in rows:
            for n, (name, _) in enumerate(columns):
                table.add_row(name, str(r[n]), end_section=n == len(columns) - 1)
        return table
    dropped = [columns[i][0] for i in range(len(columns)) if i not in keep]
    caption = f"narrow terminal: {', '.join(dropped)} left out (--format json has everything)" if dropped else None
    table = Table(title=title, caption=caption)
    # widths decided here, not by rich: identifiers get exactly their length, wrapping columns
    # share the rest in proportion to their longest cell, never below their longest word
    widest = {i: max([cell_len(str(r[i])) for r in rows] + [cell_len(columns[i][0])]) for i in keep}
    sizes = {i: narrowest(i) for i in keep}
    spare = console.width - width(keep)
    wrapping = [i for i in keep if columns[i][1] != ID and widest[i] > sizes[i]]
    while spare > 0 and wrapping:
        want = sum(widest[i] - sizes[i] for i in wrapping)
        for i in list(wrapping):
            grant = max(1, (widest[i] - sizes[i]) * spare // want) if want else 0
            grant = min(grant, widest[i] - sizes[i], spare)
            sizes[i] += grant
            spare -= grant
            if sizes[i] >= widest[i]:
                wrapping.remove(i)
            if spare <= 0:
                break
    for i in keep:
        name, kind = columns[i]
        table.add_column(name, no_wrap=kind == ID, width=sizes[i], overflow="fold",
                         justify=justify.get(name, "left"))  # type: ignore[arg-type]
    for r in rows:
        table.add_row(*[str(r[i]) for i in keep])
    return table
