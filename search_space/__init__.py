"""What a candidate is: the spec, the space, the modules, the builder and its cost.

The names below are loaded on first use (PEP 562), so importing a torch-free part of this
floor (``search_space.errors``, ``search_space.spec``) does not import torch: ``analysis``
and the CLI raise ``FusionscopeError`` without paying for it.
"""

from importlib import import_module
from typing import Any

_HOMES = {"build_model": "search_space.build", "Cost": "search_space.cost", "spec_cost": "search_space.cost",
          "SearchSpace": "search_space.space", "ArchSpec": "search_space.spec", "SpecError": "search_space.spec"}

__all__ = ["ArchSpec", "Cost", "SearchSpace", "SpecError", "build_model", "spec_cost"]


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'search_space' has no attribute {name!r}")
