"""What a candidate is: the spec, the space, the modules, the builder and its cost."""

from search_space.build import build_model
from search_space.cost import Cost, spec_cost
from search_space.space import SearchSpace
from search_space.spec import ArchSpec, SpecError

__all__ = ["ArchSpec", "Cost", "SearchSpace", "SpecError", "build_model", "spec_cost"]
