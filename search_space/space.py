"""The search space: which values each dimension may take, walked in the vocabulary's order.

``_decide`` asks every dimension that applies, in the order of ``dimensions.DIMENSIONS``, so
the conditional structure (a D-S type only for pyramid fusion, a strategy only when something
is fused, ...) is the vocabulary's ``applies``, written once.  Optuna walks it define-by-run
through ``suggest_categorical``; ``grid()`` walks every path of it for ablations.  Every
applicable dimension is suggested, even when fixed to one value, so that ``trial.params`` is
exactly the flattened ArchSpec.  Paths that would build the same network as another spec are
never offered (a fusion or pyramid with no side branch), so a sampler cannot draw a duplicate
network under another key.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Iterator, Mapping

from search_space.dimensions import (BY_NAME, DIMENSIONS, FIXED_STAGES, SIZED_BACKBONES, SpecError, default_space,
                                     format_branches, parse_branches, side_stage_sets)
from search_space.spec import ArchSpec

#: The default space: every choice of the four papers at sizes that train on a CPU.
DEFAULT_SPACE: dict[str, tuple] = default_space()

Chooser = Callable[[str, tuple], Any]


@dataclasses.dataclass(frozen=True)
class SearchSpace:
    """Choices per dimension; build with ``SearchSpace.from_config`` to validate them."""

    choices: Mapping[str, tuple]
    #: a union of subspaces (a list in the config): the grid is theirs, in order; ``choices`` merges them
    parts: tuple["SearchSpace", ...] = ()

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | list | None = None) -> "SearchSpace":
        """Restrict (a list) or fix (a scalar) any dimension of the default space.  A list of such
        mappings is the union of their grids, for designs that are no product of choices (HCNN
        Table 2: two single nets and the pairs of one of them)."""
        if isinstance(config, list):
            if not config:
                raise SpecError("space: an empty list of subspaces")
            parts = tuple(cls.from_config(part) for part in config)
            merged = {k: tuple(dict.fromkeys(v for p in parts for v in p.choices[k])) for k in DEFAULT_SPACE}
            return cls(merged, parts)
        if not isinstance(config, (Mapping, type(None))):
            raise SpecError(f"space: expected a mapping of dimension -> values (or a list of them), got {config!r}")
        choices = dict(DEFAULT_SPACE)
        for key, value in (config or {}).items():
            if key not in DEFAULT_SPACE:
                raise SpecError(f"unknown space key {key!r}; allowed keys: {', '.join(DEFAULT_SPACE)}")
            values = tuple(value) if isinstance(value, (list, tuple)) else (value,)
            if not values:
                raise SpecError(f"space key {key!r} has no values")
            choices[key] = values
        explicit = choices["branches"] != ("all",)
        choices["branches"] = _branch_choices(choices["branches"], _most_stages(choices))
        space = cls(choices)
        space._validate(explicit)
        for key in config or {}:
            if not _ever_applies(choices, key):
                raise SpecError(f"space key {key!r} applies only with {BY_NAME[key].when}, which no candidate of "
                                "this space has: drop the key or change the dimensions it depends on")
        return space

    def _validate(self, explicit_branches: bool = True) -> None:
        """Each value must be legal for its dimension; errors name key and value.  Branch sets the
        config lists must fit every backbone of the space ("all" offers each candidate its own)."""
        for key, values in self.choices.items():
            if len(set(values)) != len(values):
                raise SpecError(f"space key {key!r} lists a value twice: {list(values)}")
            if key != "branches":
                for value in values:
                    BY_NAME[key].check(value)
        for width in self.choices["width"]:
            for alpha in self.choices["alpha"]:
                if alpha > 1 and width % alpha:
                    raise SpecError(
                        f"alpha={alpha} does not divide width={width}: scFusion needs every conv's "
                        "channels to be a multiple of alpha; drop one of them from the space")
        for value in self.choices["branches"]:
            if not parse_branches(value):
                raise SpecError(f"space key 'branches' lists {value!r}: a fusion needs at least one side branch "
                                "(fusion 'none' is the baseline without side branches)")
            for where, stages in _stage_counts(self.choices) if explicit_branches else ():
                if any(b >= stages for b in parse_branches(value)):
                    raise SpecError(
                        f"branches={value!r}: {where} has side-branch stages 1..{stages - 1}")

    # --- walking the space ---------------------------------------------------------
    def sample(self, trial: Any) -> ArchSpec:
        """Define-by-run sampling inside an Optuna trial (or anything with suggest_categorical)."""
        return ArchSpec.from_params(_decide(lambda name, options: trial.suggest_categorical(name, list(options)),
                                            self.choices))

    def grid(self) -> list[ArchSpec]:
        """Every distinct spec of the space, in a stable order (for ablations)."""
        seen, specs = set(), []
        paths = (p for part in self.parts for p in _all_paths(part.choices)) if self.parts else _all_paths(self.choices)
        for params in paths:
            spec = ArchSpec.from_params(params)
            if spec not in seen:
                seen.add(spec)
                specs.append(spec)
        return specs

    def size(self) -> int:
        return len(self.grid())


def _stage_counts(c: Mapping[str, tuple]) -> list[tuple[str, int]]:
    """(where, stages) for every stage count a backbone of the space can have (a ``tv:`` trunk's
    is known once it is built: its branches are checked then)."""
    counts = [(f"stages={n}", n) for n in c["stages"]] if any(b in SIZED_BACKBONES for b in c["backbone"]) else []
    return counts + [(f"backbone={b!r}", FIXED_STAGES[b]) for b in c["backbone"] if b in FIXED_STAGES]


def _most_stages(c: Mapping[str, tuple]) -> int:
    return max([n for _, n in _stage_counts(c)] or [max(c["stages"])])


def _branch_choices(values: tuple, max_stages: int) -> tuple[str, ...]:
    if values == ("all",):
        return tuple(format_branches(s) for s in side_stage_sets(max_stages))
    return tuple(format_branches(parse_branches(v)) for v in values)


def _decide(choose: Chooser, c: Mapping[str, tuple]) -> dict[str, Any]:
    """The space's conditional structure, asked through ``choose(name, options)``."""
    p: dict[str, Any] = {}
    for dim in DIMENSIONS:
        if not dim.applies(p):
            continue
        options = dim.offer(p, c[dim.name])
        if not options:
            raise SpecError(f"no {dim.name} choice in the space fits {_describe(p)}: the space lists "
                            f"{list(c[dim.name])}; {dim.offer_rule or 'check the space'}")
        p[dim.name] = choose(dim.name, options)
    return p


def _ever_applies(c: Mapping[str, tuple], key: str) -> bool:
    """Whether some candidate of the space has ``key`` (depth-first over the dimensions before it,
    stopping at the first that has it).  Only closed dimensions (choices, booleans, backbones)
    decide whether a later dimension applies, so an integer or a branch set is tried at one value."""
    target = BY_NAME[key]
    order = [d for d in DIMENSIONS]
    stop = order.index(target)

    def walk(i: int, p: dict[str, Any]) -> bool:
        if i == stop:
            return target.applies(p)
        dim = order[i]
        if not dim.applies(p):
            return walk(i + 1, p)
        options = dim.offer(p, c[dim.name])
        if dim.kind in ("int", "branches"):
            options = options[:1]
        return any(walk(i + 1, {**p, dim.name: v}) for v in options)

    return walk(0, {})


def _describe(p: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in p.items())


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
