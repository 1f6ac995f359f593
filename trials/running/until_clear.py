"""``ablate --until-clear``: train seeds in rounds, adding them only where an answer is unclear.

Round 1 trains every design of the preset with the first ``--replicates`` seeds (an ordinary
``ablate``).  After each round a *judge* reads the study back and names the designs of every
contrast (level vs reference) that is still unresolved; the next round brings just those designs
up to the next seed count of the schedule (``schedule``), with the next unused seeds of each
design (``training.seed`` = base + the seeds it has), until no contrast is unresolved or the
schedule's last count (``--max-replicates``) is reached.  Each round is ``run_search`` on the same
study, restricted to the designs that get seeds; the searcher never trains a design's seed twice.

The judge needs the analysis, which this floor never imports: the CLI above both floors passes
it in (``fusionscope.cli.judge_look``), as ``search --report`` passes its report writer.  The
number of looks is fixed by the schedule before any data exist, which is what the intervals'
correction for the data-dependent stopping relies on (``analysis/sequential.py``).

The plan and every round's allocation (which seeds each design got) are recorded in the study
(``record.STUDY_UNTIL_CLEAR``) before the round trains, so the same command resumes where it
stopped, with the same decisions, and the report can say how the seeds were allocated.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from search_space.errors import FusionscopeError
from trials import record

if TYPE_CHECKING:  # the parser imports this module for its defaults: no config machinery at import
    from trials.config import SearchConfig

#: the default cap of seeds per design (``--max-replicates``): with the first round's 3 seeds and 3
#: more a round, four looks (3, 6, 9, 12)
DEFAULT_MAX_REPLICATES = 12
#: the default equivalence margin (``--margin``), accuracy points: a contrast whose corrected
#: interval lies inside ±2 points is "equivalent".  At the preset budget a seed's sd is ~1.3 points,
#: so 12 seeds per design give a corrected (98.75 %) interval about ±1.4 points wide around the
#: estimate: ±2 is the narrowest margin a truly null effect can be shown inside in most studies
#: within the default cap (a 1-point margin would need ~40 seeds per design)
DEFAULT_MARGIN = 2.0


def percent(confidence: float) -> str:
    """A confidence as the report prints it: 95%, 97.5%, 98.75%, 98.33%."""
    return f"{100 * confidence:.4g}%"


class UntilClearError(FusionscopeError):
    """A study recorded with another until-clear plan, or a plan that cannot run."""


def schedule(first: int, max_replicates: int, step: int | None = None) -> list[int]:
    """Seeds per design at each look: ``first``, then ``step`` (default ``first``) more a round, up to the cap."""
    step = step or first
    if max_replicates < first:
        raise UntilClearError(f"--max-replicates {max_replicates} is below --replicates {first}; "
                              f"the cap counts all seeds of a design, so give at least {first}")
    counts = [first]
    while counts[-1] < max_replicates:
        counts.append(min(counts[-1] + step, max_replicates))
    return counts


@dataclasses.dataclass(frozen=True)
class Plan:
    """What the rule was before any data existed: the seeds at each look and the margin."""

    base_seed: int
    looks: tuple[int, ...]  # seeds per design at each look (the schedule)
    margin: float

    def to_dict(self) -> dict[str, Any]:
        return {"base_seed": self.base_seed, "looks": list(self.looks), "margin": self.margin}


@dataclasses.dataclass(frozen=True)
class Verdict:
    """The judge's answer after a look: which designs (spec keys) need more seeds, and what to print."""

    designs: frozenset[str]
    lines: tuple[str, ...] = ()


#: ``judge(storage_url, study_name, look) -> Verdict``, look 1-based (set by ``fusionscope.cli``)
Judge = Callable[[str, str, int], Verdict]
#: ``run(config, designs)``: one round's search (``designs``: spec keys, None = the whole grid)
RunRound = Callable[["SearchConfig", "frozenset[str] | None"], Any]


def seeds_at(allocations: Sequence[Mapping[str, Sequence[int]]], look: int) -> dict[str, list[int]]:
    """Each design's seeds after the first ``look`` rounds (from the recorded allocations)."""
    out: dict[str, list[int]] = {}
    for round_ in allocations[:look]:
        for key, seeds in round_.items():
            out.setdefault(key, []).extend(int(s) for s in seeds)
    return out


def next_allocation(have: Mapping[str, Sequence[int]], designs: frozenset[str], target: int,
                    base_seed: int) -> dict[str, list[int]]:
    """The next round: each design in ``designs`` brought up to ``target`` seeds with its next unused
    seeds (``base + the count it has``); designs already there get none."""
    out = {}
    for key in sorted(designs):
        count = len(have.get(key, ()))
        if count < target:
            out[key] = list(range(base_seed + count, base_seed + target))
    return out


def _load_plan(study: Any, plan: Plan) -> list[dict[str, list[int]]]:
    """The allocations recorded for this plan; a study recorded with another plan is refused."""
    recorded = study.user_attrs.get(record.STUDY_UNTIL_CLEAR)
    if recorded is None:
        return []
    mine = plan.to_dict()
    differing = [k for k in mine if recorded.get(k) != mine[k]]
    if differing:
        shown = "; ".join(f"{k}: {recorded.get(k)} in the study, {mine[k]} here" for k in differing)
        raise UntilClearError(f"study {study.study_name!r} was run --until-clear with another plan ({shown}); its "
                              "intervals are corrected for that plan's looks, so use the same --replicates, "
                              "--max-replicates, --margin and training.seed, or another study name")
    return [dict(r) for r in recorded.get("allocations", [])]


def _record(study: Any, plan: Plan, allocations: list[dict[str, list[int]]]) -> None:
    study.set_user_attr(record.STUDY_UNTIL_CLEAR, {**plan.to_dict(), "allocations": allocations})


def run_until_clear(config: SearchConfig, plan: Plan, judge: Judge, run_round: RunRound, storage_url: str,
                    say: Callable[[str], None] = print) -> list[dict[str, list[int]]]:
    """Run the rounds (resuming any the study already records); returns every round's allocation."""
    import warnings

    import optuna

    from trials.running.study import open_study

    with warnings.catch_warnings():  # Optuna's "heartbeat_interval is experimental", as run_search silences it
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study = open_study(config, storage_url)
    allocations = _load_plan(study, plan)
    grid = [spec.key() for spec in config.search_space().grid()]
    first = plan.looks[0]
    if not allocations:
        allocations = [{key: list(range(plan.base_seed, plan.base_seed + first)) for key in grid}]
        _record(study, plan, allocations)
    for look in range(1, len(plan.looks) + 1):
        _train(config, allocations[look - 1], run_round, say, look)
        verdict = judge(storage_url, config.study, look)
        for line in verdict.lines:
            say(line)
        if look == len(plan.looks):
            break
        if len(allocations) > look:  # decided before a stop: keep that decision
            continue
        nxt = next_allocation(seeds_at(allocations, look), verdict.designs, plan.looks[look], plan.base_seed)
        if not nxt:
            break
        allocations.append(nxt)
        _record(study, plan, allocations)
    return allocations


def _train(config: SearchConfig, allocation: Mapping[str, Sequence[int]], run_round: RunRound,
           say: Callable[[str], None], look: int) -> None:
    """One round: a search per distinct seed block (designs that skipped a round start lower)."""
    blocks: dict[tuple[int, ...], set[str]] = {}
    for key, seeds in allocation.items():
        blocks.setdefault(tuple(seeds), set()).add(key)
    for seeds, keys in sorted(blocks.items()):
        say(f"round {look}: seeds {seeds[0]}–{seeds[-1]} for {len(keys)} design(s)")
        training = dataclasses.replace(config.training, seed=seeds[0], replicates=len(seeds))
        run_round(dataclasses.replace(config, training=training), frozenset(keys) if look > 1 else None)
