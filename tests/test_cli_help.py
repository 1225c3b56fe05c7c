"""``tongban --help`` lists every command without importing them (lazy loading)."""
from __future__ import annotations

import importlib
import json
import subprocess
import sys

import click
import pytest

from tongban.cli import COMMANDS, SUMMARIES

# tongban itself (the version) and tongban.cli: nothing else belongs to --help
MAX_TONGBAN_MODULES = 2


def test_help_imports_no_sub_command():
    probe = ("import json, sys\nsys.argv = ['tongban', '--help']\nimport runpy\n"
             "try:\n    runpy.run_module('tongban.cli', run_name='__main__')\nexcept SystemExit:\n    pass\n"
             "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] == 'tongban')))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    *help_lines, last = out.stdout.strip().splitlines()
    loaded = json.loads(last)
    assert len(loaded) <= MAX_TONGBAN_MODULES, loaded
    listed = {line.split()[0] for line in help_lines if line.startswith("  ") and line.split()}
    assert set(COMMANDS) <= listed


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_summary_is_the_commands_own_help(name):
    module, attr = COMMANDS[name].split(":")
    command: click.Command = getattr(importlib.import_module(module), attr)
    assert SUMMARIES[name] == command.get_short_help_str(limit=1000)
