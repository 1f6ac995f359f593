"""The search space: which values each dimension may take, and the order they are decided in.

One function, ``_decide``, holds the conditional structure (a D-S type is asked only for
pyramid fusion, strategy only when something is fused, ...).  Optuna walks it define-by-run
through ``suggest_categorical``; ``grid()`` walks every path of it for ablations.  Every
applicable dimension is suggested, even when fixed to one value, so that ``trial.params`` is
exactly the flattened ArchSpec.
"""

from __future__ import annotations

import dataclasses
import itertools
from typing import Any, Callable, Iterator, Mapping

from search_space.spec import (ALPHAS, BACKBONES, CL_LAYERS, COMBINATIONS, DOWNSAMPLES, FUSION_SITES,
                               GAP_FUSIONS, MERGES, STAGES, STRATEGIES, ArchSpec, SpecError,
                               format_branches, parse_branches)

#: The default space: every choice of the four papers at sizes that train on a CPU.
DEFAULT_SPACE: dict[str, tuple] = {
    "backbone": BACKBONES,
    "width": (16, 32, 64),
    "depth": (1, 2),
    "stages": (3,),
    "fusion_site": FUSION_SITES,
    "fusion": GAP_FUSIONS,
    "strategy": STRATEGIES,
    "branches": ("all",),  # "all" = every subset of the side-branch stages
    "side_channels": (32, 64, 128),
    "downsample": DOWNSAMPLES,
    "merge": MERGES,
    "detach": (False, True),
    "alpha": ALPHAS,
    "sc_add": (True, False),
    "sc_inverse": (True, False),
    "combination": COMBINATIONS,
    "cl_layers": CL_LAYERS,
    "cl_width": (128, 256),
    "partner_backbone": BACKBONES,
    "partner_width": (16, 32),
    "partner_depth": (1, 2),
}

Chooser = Callable[[str, tuple], Any]


@dataclasses.dataclass(frozen=True)
class SearchSpace:
    """Choices per dimension; build with ``SearchSpace.from_config`` to validate them."""

    choices: Mapping[str, tuple]

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | None = None) -> "SearchSpace":
        """Restrict (a list) or fix (a scalar) any dimension of the default space."""
        choices = dict(DEFAULT_SPACE)
        for key, value in (config or {}).items():
            if key not in DEFAULT_SPACE:
                raise SpecError(
                    f"unknown space key {key!r}; allowed keys: {', '.join(DEFAULT_SPACE)}")
            values = tuple(value) if isinstance(value, (list, tuple)) else (value,)
            if not values:
                raise SpecError(f"space key {key!r} has no values")
            choices[key] = values
        choices["branches"] = _branch_choices(choices["branches"], max(choices["stages"]))
        space = cls(choices)
        space._validate()
        return space

    def _validate(self) -> None:
        """Each value must be legal where its dimension applies; errors name key and value."""
        for stages in self.choices["stages"]:
            if stages not in STAGES:
                raise SpecError(f"stages={stages!r} is not allowed; choose one of {STAGES}")
        for key, values in self.choices.items():
            if key in ("branches", "stages"):
                continue
            if len(set(values)) != len(values):
                raise SpecError(f"space key {key!r} lists a value twice: {list(values)}")
            for value in values:
                ArchSpec(**{**_CONTEXT.get(key, {}), key: value})
        for width in self.choices["width"]:
            for alpha in self.choices["alpha"]:
                if alpha > 1 and width % alpha:
                    raise SpecError(
                        f"alpha={alpha} does not divide width={width}: scFusion needs every conv's "
                        "channels to be a multiple of alpha; drop one of them from the space")
        for value in self.choices["branches"]:
            for stages in self.choices["stages"]:
                if any(b >= stages for b in parse_branches(value)):
                    raise SpecError(
                        f"branches={value!r}: stages={stages} has side-branch stages 1..{stages - 1}")

    # --- walking the space ---------------------------------------------------------
    def sample(self, trial: Any) -> ArchSpec:
        """Define-by-run sampling inside an Optuna trial (or anything with suggest_categorical)."""
        return ArchSpec.from_params(_decide(lambda name, options: trial.suggest_categorical(name, list(options)),
                                            self.choices))

    def grid(self) -> list[ArchSpec]:
        """Every distinct spec of the space, in a stable order (for ablations)."""
        seen, specs = set(), []
        for params in _all_paths(self.choices):
            spec = ArchSpec.from_params(params)
            if spec not in seen:
                seen.add(spec)
                specs.append(spec)
        return specs

    def size(self) -> int:
        return len(self.grid())


# Where each dimension applies, so a value can be checked on its own.
_CONTEXT: dict[str, dict[str, Any]] = {
    "fusion": {"fusion_site": "gap"},
    "strategy": {"fusion": "sum"},
    "side_channels": {"backbone": "plain"},
    "downsample": {"fusion_site": "pyramid"},
    "merge": {"fusion_site": "pyramid"},
    "detach": {"fusion_site": "pyramid"},
    "sc_add": {"alpha": 2},
    "sc_inverse": {"alpha": 2},
    "cl_layers": {"combination": "cl"},
    "cl_width": {"combination": "cl"},
    "partner_backbone": {"combination": "avg"},
    "partner_width": {"combination": "avg"},
    "partner_depth": {"combination": "avg"},
    "alpha": {"width": 8 * 9 * 5 * 7},
}


def _branch_choices(values: tuple, max_stages: int) -> tuple[str, ...]:
    if values == ("all",):
        sides = range(1, max_stages)
        subsets = itertools.chain.from_iterable(itertools.combinations(sides, r) for r in range(len(sides) + 1))
        return tuple(format_branches(s) for s in subsets)
    return tuple(format_branches(parse_branches(v)) for v in values)


def _decide(choose: Chooser, c: Mapping[str, tuple]) -> dict[str, Any]:
    """The space's conditional structure, asked through ``choose(name, options)``."""
    p: dict[str, Any] = {}
    for key in ("backbone", "width", "depth", "stages", "fusion_site"):
        p[key] = choose(key, c[key])
    sides = tuple(b for b in c["branches"]
                  if all(i < p["stages"] for i in parse_branches(b))) or ("none",)
    if p["fusion_site"] == "gap":
        p["fusion"] = choose("fusion", c["fusion"])
        fused = p["fusion"] != "none"
        if fused:
            if p["fusion"] != "concat":  # concat has no strategy: it is EFLP by nature
                p["strategy"] = choose("strategy", c["strategy"])
            p["branches"] = choose("branches", sides)
        if fused or p["backbone"] == "plain":
            p["side_channels"] = choose("side_channels", c["side_channels"])
    else:
        p["branches"] = choose("branches", sides)
        for key in ("downsample", "merge", "detach"):
            p[key] = choose(key, c[key])
        if p["backbone"] == "plain":
            p["side_channels"] = choose("side_channels", c["side_channels"])
    p["alpha"] = choose("alpha", c["alpha"])
    if p["alpha"] > 1:
        p["sc_add"] = choose("sc_add", c["sc_add"])
        if p["sc_add"]:
            p["sc_inverse"] = choose("sc_inverse", c["sc_inverse"])
    p["combination"] = choose("combination", c["combination"])
    if p["combination"] != "single":
        for key in ("partner_backbone", "partner_width", "partner_depth"):
            p[key] = choose(key, c[key])
        if p["combination"] == "cl":
            p["cl_layers"] = choose("cl_layers", c["cl_layers"])
            p["cl_width"] = choose("cl_width", c["cl_width"])
    return p


def _all_paths(c: Mapping[str, tuple]) -> Iterator[dict[str, Any]]:
    """Depth-first over every sequence of answers ``_decide`` can receive."""
    stack: list[list[int]] = [[]]
    while stack:
        prefix = stack.pop()
        answers, branching = iter(prefix), []

        def choose(name: str, options: tuple) -> Any:
            i = next(answers, None)
            if i is None:
                branching.append(len(options))
                i = 0
            return options[i]

        params = _decide(choose, c)
        # every choice made past the prefix took option 0; queue the siblings at each depth
        for depth, n in enumerate(branching):
            base = prefix + [0] * depth
            stack.extend(base + [i] for i in range(n - 1, 0, -1))
        yield params
