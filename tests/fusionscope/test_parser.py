"""The command line answers at once: building the parser imports none of the heavy libraries.

Every CLI call (``--help``, a bad argument, a typo'd subcommand) pays for what the parser
imports, and so does every CLI test; torch, statsmodels, pandas and plotly are imported by the
handler that runs, never to describe the commands.
"""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("torch", "torchvision", "statsmodels", "pandas", "plotly", "scipy", "ray")


def test_building_the_parser_imports_no_heavy_library():
    code = (
        "import json, sys\n"
        "from fusionscope.cli import build_parser\n"
        "parser = build_parser()\n"
        f"print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r}))))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert json.loads(done.stdout.splitlines()[-1]) == []


def test_every_subcommand_help_answers_without_the_heavy_libraries():
    """``fusionscope <command> --help`` exits 0 through argparse before any handler runs."""
    code = (
        "import json, sys, contextlib, io\n"
        "from fusionscope.cli import main\n"
        "for command in ('search', 'ablate', 'cost', 'pareto', 'report', 'compare', 'export', 'dashboard'):\n"
        "    with contextlib.redirect_stdout(io.StringIO()):\n"
        "        try:\n"
        "            main([command, '--help'])\n"
        "        except SystemExit as stop:\n"
        "            assert stop.code == 0, (command, stop.code)\n"
        f"print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r}))))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.splitlines()[-1]) == []
