"""Name -> module tables, one per design dimension (timm's ``layers/create_attn.py`` pattern).

A table turns a string from a config (or a class, for code that brings its own) into a
module with the table's one constructor convention, and says which names it knows, so a test
can check them against the vocabulary.  An unknown name is a ``SpecError`` that lists the
choices rather than an assertion.

The cost protocol lives here too: a module that does work beyond its own ``nn.Conv2d`` and
``nn.Linear`` submodules (which the cost counter counts itself) answers ``extra_macs``; every
module a table builds declares it, even as 0, so a new op cannot silently count as free.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Mapping, Protocol, runtime_checkable

from torch import nn

from search_space.dimensions import choice_error


@runtime_checkable
class CountsItsWork(Protocol):
    """The cost protocol: multiply-accumulates per forward pass of one batch item, beyond the
    module's own Conv2d/Linear submodules (``inputs``/``output`` as a forward hook sees them)."""

    def extra_macs(self, inputs: tuple, output: Any) -> int: ...


class ModuleTable:
    """The modules of one dimension, reachable by name: ``table.create(name, *args, **kwargs)``."""

    def __init__(self, dimension: str, entries: Mapping[str, Callable[..., nn.Module]]) -> None:
        self.dimension = dimension
        self.entries = dict(entries)

    def names(self) -> tuple[str, ...]:
        return tuple(self.entries)

    def create(self, name_or_class: str | type[nn.Module], *args: Any, **kwargs: Any) -> nn.Module:
        if isinstance(name_or_class, type):
            return name_or_class(*args, **kwargs)
        try:
            factory = self.entries[name_or_class]
        except KeyError:
            raise choice_error(self.dimension, name_or_class, self.names()) from None
        return factory(*args, **kwargs)

    def classes(self) -> set[type]:
        """The module classes the table builds (for the check that each one is counted)."""
        return {f.func if isinstance(f, functools.partial) else f for f in self.entries.values()
                if isinstance(f, type) or isinstance(f, functools.partial)}
