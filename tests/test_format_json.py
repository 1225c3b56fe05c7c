"""Every command that prints a table also has ``--format json`` (finding: not every command had it)."""
from __future__ import annotations

import click
import pytest

from tongban.cli import COMMANDS, main

# commands that print a table in text form
TABLE_COMMANDS = [("partners", "list"), ("status",), ("ledger", "list"), ("quarantine", "list"), ("case", "list"),
                  ("case", "show"), ("conformance", "list"), ("sandbox", "up"), ("sandbox", "status"), ("demo",)]


def _command(path):
    ctx = click.Context(main)
    cmd = main.get_command(ctx, path[0])
    for name in path[1:]:
        cmd = cmd.get_command(ctx, name)
    return cmd


@pytest.mark.parametrize("path", TABLE_COMMANDS, ids=" ".join)
def test_a_table_command_offers_format_json(path):
    cmd = _command(path)
    options = {opt for p in cmd.params for opt in getattr(p, "opts", [])}
    assert "--format" in options
    fmt = next(p for p in cmd.params if "--format" in getattr(p, "opts", []))
    assert "json" in fmt.type.choices


def _leaves(cmd, path=()):
    if isinstance(cmd, click.Group):
        for name in cmd.list_commands(click.Context(cmd)):
            yield from _leaves(cmd.get_command(click.Context(cmd), name), path + (name,))
    else:
        yield path, cmd


def test_every_command_printing_a_table_has_format_json():
    """Found by reading each command's body: a new command printing a table cannot skip --format json."""
    import inspect

    printing = []
    for path, cmd in _leaves(main):
        source = inspect.getsource(cmd.callback)
        source = source[source.index(":\n", source.index("def ")):]   # the body, not the decorators or the def
        if any(marker in source for marker in ("Table(", "fitted_table(", "_show(")):
            printing.append(path)
            assert "--format" in {o for p in cmd.params for o in getattr(p, "opts", [])}, path
    assert {("partners", "list"), ("ledger", "list"), ("conformance", "list"), ("sandbox", "up")} <= set(printing)
