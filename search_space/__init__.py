"""What a candidate is: the vocabulary, the spec, the space, the modules, the builder and its cost.

``import search_space`` stays torch-free (the vocabulary, ``ArchSpec``, ``SearchSpace``), so
the analysis and the CLI can use the spec without loading torch; the builder and the cost
counter load it when first asked for.
"""

from typing import Any

from search_space.dimensions import DIMENSIONS, Dimension
from search_space.space import SearchSpace
from search_space.spec import ArchSpec, SpecError

__all__ = ["ArchSpec", "Cost", "DIMENSIONS", "Dimension", "SearchSpace", "SpecError", "build_model", "spec_cost"]

_LAZY = {"build_model": "search_space.build", "Cost": "search_space.cost", "spec_cost": "search_space.cost"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'search_space' has no attribute {name!r}")
