"""A Ctrl-C that Python could not raise: kept, and acted on where the search can stop.

Before a search installs its own handler, SIGINT is Python's ``KeyboardInterrupt``, raised wherever
the main thread is.  When that is inside a finaliser or a weakref callback (SQLAlchemy's class
registry cleans up that way), Python cannot raise it: it prints "Exception ignored in ..." with a
traceback and carries on, and the Ctrl-C is lost (the 2.5 s case of
``tests/test_bad_inputs.py::test_ctrl_c_in_the_first_seconds_of_a_real_search_is_one_line``, about
one run in ten).  ``install`` hooks ``sys.unraisablehook`` so that such an interrupt is kept, quietly;
``take`` says one was (and forgets it), and the search stops at its next safe point (``search._SignalStop``).
"""

from __future__ import annotations

import sys
from typing import Any

_lost: list[KeyboardInterrupt] = []
_installed: list[bool] = []


def install() -> None:
    """Keep an unraisable ``KeyboardInterrupt`` instead of printing it; every other one as before.
    Idempotent: the CLI's ``main`` calls it on every (in-process) command."""
    if _installed:
        return
    _installed.append(True)
    previous = sys.unraisablehook

    def hook(unraisable: Any) -> None:
        if isinstance(unraisable.exc_value, KeyboardInterrupt):
            _lost.append(unraisable.exc_value)
            return
        previous(unraisable)

    sys.unraisablehook = hook


def take() -> bool:
    """Whether a Ctrl-C was lost in a callback since the last ``take``."""
    lost = bool(_lost)
    _lost.clear()
    return lost
