"""A Ctrl-C that lands in a finaliser is kept, not printed and lost (``trials/running/interrupts.py``)."""

from __future__ import annotations

import subprocess
import sys

CODE = """
import sys
from trials.running import interrupts
interrupts.install()

class Finalised:
    def __del__(self):
        raise KeyboardInterrupt  # where a Ctrl-C lands when the main thread is in a finaliser

Finalised()  # collected at once: Python cannot raise from __del__
print("carried on", interrupts.take(), interrupts.take())

class Other:
    def __del__(self):
        raise ValueError("a real bug in a finaliser")

Other()
"""


def test_a_lost_ctrl_c_is_kept_quietly_and_other_finaliser_errors_still_print():
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "carried on True False"  # kept once, then forgotten
    assert "KeyboardInterrupt" not in out.stderr  # not Python's "Exception ignored ..." traceback
    assert "ValueError: a real bug in a finaliser" in out.stderr  # everything else as before


def test_the_cli_turns_a_lost_ctrl_c_into_its_one_line_and_exit_130(monkeypatch, capsys):
    from fusionscope import cli
    from trials.running import interrupts

    def command(argv):
        interrupts._lost.append(KeyboardInterrupt())  # what the hook keeps when a Ctrl-C was lost
        return 0

    monkeypatch.setattr(cli, "_main", command)
    assert cli.main(["report"]) == 130
    assert capsys.readouterr().err == "error: stopped by SIGINT (Ctrl-C)\n"
    assert not interrupts.take()
