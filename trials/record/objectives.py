"""The objectives a search may optimise: one table, read by every part that needs one.

Each entry says everything about one objective once: its name in a config, its Optuna
direction, the trial user attr that records its figure, the ``constraints:`` key that limits
it, its label and unit for plots and tables, and whether it is a *cost* (known from the built
model before training, so MOASHA can rank by it and a limit can refuse a design untrained).
The search (values told to Optuna), the constraints (limit -> figure), the Pareto plot (limit
lines, axis order), the hypervolume, the report and ``compare`` all read this table, so adding
an objective (say ``energy``) is one entry here, the code that measures it, and a test.

Torch-free and import-free, so the config, the driver and the analysis can all use it.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Final, Literal, Mapping

from search_space.convention import MAC_CONVENTION  # noqa: F401  (re-exported for the analysis)
from trials import record


@dataclasses.dataclass(frozen=True)
class ObjectiveEntry:
    """One objective: what it is called, which way is better, where its figure lives."""

    name: str
    direction: Literal["maximize", "minimize"]
    #: trial user attr holding the figure; None when it is only the Optuna value (accuracy)
    record_key: str | None
    #: the ``constraints:`` key bounding it from above, or None when it cannot be limited
    limit: str | None
    label: str
    #: how a value reads: ``fraction`` (shown as %), ``count`` (272k, 1.2M), ``ms``
    unit: Literal["fraction", "count", "ms"]
    #: known before training (from the built model): rankable by MOASHA, limitable before training
    cost: bool
    about: str

    @property
    def maximize(self) -> bool:
        return self.direction == "maximize"

    def sign(self) -> float:
        """Multiply a value by this to get a loss (smaller is better)."""
        return -1.0 if self.maximize else 1.0


OBJECTIVES: Final[dict[str, ObjectiveEntry]] = {o.name: o for o in (
    ObjectiveEntry("accuracy", "maximize", None, None, "accuracy (val, mean over seeds)", "fraction", False,
                   "mean validation accuracy over the seeds, in [0, 1]"),
    ObjectiveEntry("params", "minimize", record.PARAMS, "max_params", "parameters", "count", True,
                   "exact parameter count of the built model"),
    ObjectiveEntry("macs", "minimize", record.MACS, "max_macs", "MACs per image", "count", True,
                   "multiply-accumulates per image, forward pass"),
    ObjectiveEntry("latency", "minimize", record.LATENCY_MS, "max_latency_ms", "latency (ms per batch)", "ms", False,
                   "median forward latency per batch on the trial's device, milliseconds"),
)}

#: ``constraints:`` key -> the objective it limits.  Table order is the constraint vector's order in every
#: stored trial (``trials.config.constraints.CONSTRAINTS_ATTR``): append new entries, never reorder.
BY_LIMIT: Final[dict[str, ObjectiveEntry]] = {o.limit: o for o in OBJECTIVES.values() if o.limit}


def objective(name: str) -> ObjectiveEntry:
    """The entry of ``name``; KeyError naming the choices (callers turn it into their error type)."""
    try:
        return OBJECTIVES[name]
    except KeyError:
        raise KeyError(f"unknown objective {name!r}; choose from {', '.join(OBJECTIVES)}") from None


def directions(names: list[str] | tuple[str, ...]) -> list[str]:
    """Optuna's ``directions`` for a study of these objectives, in order."""
    return [objective(n).direction for n in names]


def trial_values(names: list[str] | tuple[str, ...], accuracy: float, attrs: Mapping[str, Any]) -> list[float]:
    """The values to tell Optuna for a finished trial: accuracy from the training, every other
    objective from the figure its ``record_key`` holds among the trial's user attrs."""
    out = []
    for name in names:
        entry = objective(name)
        out.append(accuracy if entry.record_key is None else attrs[entry.record_key])
    return out
