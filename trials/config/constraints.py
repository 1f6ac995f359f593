"""Cost limits known before training, in Optuna's constraint convention.

A candidate's params and MACs (and its latency, measured once on the trial's device) are known
before it trains, so a design over a limit need never train: the driver records it with its cost
and the violated limits, and the sampler is told through ``constraints_func`` so it stops proposing
such designs.  Optuna's convention: one float per constraint, a value <= 0 is satisfied, a positive
value says by how much it is exceeded.  Optuna 5 offers two ways to tell the sampler, both here:

- ``record(trial, limits, cost)`` calls ``Trial.set_constraint`` per limit (Optuna 5's public way;
  TPE, NSGA-II and GP read it with no sampler argument) and stores the vector and the violations as
  user attributes for the record and the analysis;
- ``constraints_func`` for ``TPESampler``/``NSGAIISampler(constraints_func=...)`` reads that user
  attribute back (deprecated since Optuna 5.0, removed in 7.0, kept for samplers built that way).

Either must happen *before* the trial is told its outcome: Optuna reads the constraints of a
trial when it finishes.

This module is pure: no torch, no Ray, so the config, the driver and the analysis can all read it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from trials.checked import Checked, ConfigError, bounded, from_mapping
from trials.record.objectives import BY_LIMIT

#: Trial user attribute holding the constraint values (one per limit in ``LIMITS`` order, all of
#: them even when a limit is unset, so every trial of a study has a vector of the same length).
CONSTRAINTS_ATTR = "constraints"
#: Trial user attribute holding the violated limits as ``{limit: amount over}`` (empty if feasible).
VIOLATIONS_ATTR = "constraint_violations"
#: Each limit and the record key of the figure it bounds (``params``, ``macs``, ``latency_ms``), from
#: the objective table.
LIMITS: dict[str, str] = {limit: entry.record_key for limit, entry in BY_LIMIT.items()}


#: kept for callers that catch it: a bad ``constraints:`` value is a ConfigError like any section's
ConstraintError = ConfigError


@dataclasses.dataclass(frozen=True)
class Constraints(Checked):
    """Upper limits on a candidate's cost; ``None`` means no limit.  One field per limit of the
    objective table (a test checks they agree), checked like every config section."""

    section = "constraints"
    max_params: float | None = bounded(None, above=0)
    max_macs: float | None = bounded(None, above=0)
    max_latency_ms: float | None = bounded(None, above=0)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> "Constraints":
        """From the ``constraints:`` mapping of a YAML config; unknown keys are an error."""
        return from_mapping(cls, d)

    @property
    def active(self) -> bool:
        return any(getattr(self, name) is not None for name in LIMITS)

    @property
    def needs_latency(self) -> bool:
        """Latency is measured before training only when a latency limit asks for it."""
        return self.max_latency_ms is not None

    def values(self, cost: Mapping[str, Any]) -> list[float]:
        """Optuna's constraint vector: ``cost - limit`` per limit (<= 0 feasible), 0.0 for no limit.

        A limit whose cost figure is missing from ``cost`` is an error (a bug in the caller: the
        driver must measure latency when ``max_latency_ms`` is set), never silently feasible.
        """
        out = []
        for name, key in LIMITS.items():
            limit = getattr(self, name)
            if limit is None:
                out.append(0.0)
                continue
            if cost.get(key) is None:
                raise KeyError(f"cost has no {key!r}, needed by constraints.{name}")
            out.append(float(cost[key]) - float(limit))
        return out

    def violations(self, cost: Mapping[str, Any]) -> dict[str, float]:
        """``{limit name: amount over}`` for each limit ``cost`` exceeds; empty when feasible."""
        return {name: v for name, v in zip(LIMITS, self.values(cost)) if v > 0}

    def feasible(self, cost: Mapping[str, Any]) -> bool:
        return not self.violations(cost)

    def describe(self, cost: Mapping[str, Any]) -> str:
        """The reason recorded for a candidate that was not trained, e.g. ``macs 3.1e+06 > max_macs 2e+06``."""
        parts = [f"{LIMITS[name]} {cost[LIMITS[name]]:.4g} > {name} {getattr(self, name):.4g}"
                 for name in self.violations(cost)]
        return "; ".join(parts)


def record(trial: Any, limits: Constraints, cost: Mapping[str, Any]) -> dict[str, float]:
    """Tell the sampler and the record a candidate's constraint values; returns its violations.

    ``trial`` is a running ``optuna.trial.Trial`` (or a ``FrozenTrial`` being built for
    ``add_trial``).  Only active limits become Optuna constraints, named by the limit, so a study
    without limits stays unconstrained.
    """
    values = limits.values(cost)
    for name, value in zip(LIMITS, values):
        if getattr(limits, name) is not None:
            trial.set_constraint(name, value)
    violations = limits.violations(cost)
    trial.set_user_attr(CONSTRAINTS_ATTR, values)
    trial.set_user_attr(VIOLATIONS_ATTR, violations)
    return violations


def constraints_func(trial: Any) -> Sequence[float]:
    """For ``TPESampler(constraints_func=...)`` and ``NSGAIISampler(constraints_func=...)``.

    Reads the vector the driver stored with ``trial.set_user_attr(CONSTRAINTS_ATTR, ...)``.  A trial
    without it (e.g. one that failed before its cost was known) counts as feasible: Optuna only
    calls this on finished trials, and inventing a violation would steer the sampler by a crash.
    """
    values = trial.user_attrs.get(CONSTRAINTS_ATTR)
    if values is None:
        return [0.0] * len(LIMITS)
    return [float(v) for v in values]
