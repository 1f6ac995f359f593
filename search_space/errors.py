"""The one error type a user sees: every bad input or broken storage is a ``FusionscopeError``.

It lives on the lowest floor (torch-free, import-free) so every package can raise it, and the
command-line entry point catches it once: ``error: <message>`` and ``exit_code``.  Anything
else that escapes is a real bug and keeps its traceback.
"""

from __future__ import annotations


class FusionscopeError(Exception):
    """Base of every user-facing failure; ``exit_code`` is what the CLI exits with."""

    exit_code: int = 2
