"""Open a study by storage URL and name, and flatten its trials into plain rows.

The rest of ``analysis`` computes from these rows (and from ``optuna.Study`` where Optuna
already has the answer, e.g. ``study.best_trials``), so what a table shows can be checked
against the storage in a test.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

import optuna
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState

from search_space.errors import FusionscopeError
from trials import record
from trials.record.objectives import OBJECTIVES
from trials.record.storage import mask_url, open_storage_readonly, reading


class StudyNotFoundError(FusionscopeError, LookupError):
    """The storage has no study of that name; the message lists the ones it has."""


def open_study(storage: str, study_name: str) -> optuna.Study:
    """Load a study read-only, or raise ``StudyNotFoundError`` naming it and the studies that exist.

    The storage is opened with ``trials.record.storage.open_storage_readonly``: a missing SQLite file,
    or one that is not an Optuna storage, is refused (``StudyError``) and never created or
    changed; ``mask_url`` is re-exported here for the analysis code that names storages.
    """
    shown = mask_url(storage)
    rdb = open_storage_readonly(storage)
    with reading(storage):
        names = optuna.get_all_study_names(rdb)
        if study_name not in names:
            listed = ", ".join(repr(n) for n in sorted(names)) if names else "none"
            raise StudyNotFoundError(f"no study {study_name!r} in {shown}; studies in this storage: {listed}")
        return optuna.load_study(study_name=study_name, storage=rdb)


@dataclass(frozen=True)
class Objective:
    """One objective of the study: its name and whether larger is better."""

    name: str
    maximize: bool

    @property
    def direction(self) -> str:
        return "maximize" if self.maximize else "minimize"

    @property
    def sign(self) -> float:
        """Multiply a value by this to get a loss (smaller is better): the one sign rule."""
        return -1.0 if self.maximize else 1.0


def losses(rows: Sequence["TrialRow"], objectives: Sequence[Objective]) -> np.ndarray:
    """Complete trials' objective values as losses (every column minimised), one row per trial:
    what dominance, fronts and hypervolumes are computed on."""
    sign = np.array([o.sign for o in objectives])
    return sign * np.array([[r.values[o.name] for o in objectives] for r in rows], dtype=float).reshape(
        len(rows), len(objectives))


def study_objectives(study: optuna.Study) -> tuple[Objective, ...]:
    """Objective names from the study attr ``objectives``, directions from the study itself.

    Studies that never recorded names (made by hand) get ``obj0``, ``obj1``, ...
    """
    directions = study.directions
    names = study.user_attrs.get(record.STUDY_OBJECTIVES)
    if names is None:
        names = [f"obj{i}" for i in range(len(directions))]
    if len(names) != len(directions):
        raise ValueError(
            f"study attr {record.STUDY_OBJECTIVES!r} lists {len(names)} objectives "
            f"({', '.join(names)}) but the study has {len(directions)} directions"
        )
    return tuple(
        Objective(str(name), direction == StudyDirection.MAXIMIZE)
        for name, direction in zip(names, directions)
    )


@dataclass(frozen=True)
class TrialRow:
    """What the analysis needs of one trial, keyed by names instead of positions."""

    number: int
    state: str
    params: Mapping[str, Any]
    values: Mapping[str, float] = field(default_factory=dict)
    attrs: Mapping[str, Any] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        return self.state == TrialState.COMPLETE.name

    @property
    def accuracy_samples(self) -> list[float]:
        """Final accuracy per seed; a trial that recorded no replicates counts its one value."""
        replicates = self.attrs.get(record.ACCURACY_REPLICATES)
        if replicates:
            return [float(a) for a in replicates]
        if "accuracy" in self.values:
            return [self.values["accuracy"]]
        return []

    @property
    def test_accuracy_samples(self) -> list[float]:
        """Test accuracy per seed at the last epoch (``data.test_accuracy``); [] where not recorded."""
        return [float(a) for a in self.attrs.get(record.TEST_ACCURACY_REPLICATES) or []]

    def cost(self, name: str) -> float | None:
        """``params`` or ``macs`` as recorded in the user attrs, else as an objective value."""
        entry = OBJECTIVES.get(name)
        attr = entry.record_key if entry is not None and entry.record_key else name
        value = self.attrs.get(attr, self.values.get(name))
        return None if value is None else float(value)

    @property
    def spec(self) -> dict[str, Any]:
        """The spec's relevant fields (the ``spec`` attr without Nones), else the params."""
        spec = self.attrs.get(record.SPEC)
        if isinstance(spec, Mapping):
            return {k: v for k, v in spec.items() if v is not None}
        return dict(self.params)

    @property
    def error(self) -> str | None:
        return self.attrs.get(record.ERROR)


def trial_row(trial: FrozenTrial, objectives: tuple[Objective, ...]) -> TrialRow:
    values = trial.values if trial.state == TrialState.COMPLETE and trial.values else []
    return TrialRow(
        number=trial.number,
        state=trial.state.name,
        params=dict(trial.params),
        values={o.name: float(v) for o, v in zip(objectives, values)},
        attrs=dict(trial.user_attrs),
    )


def trial_rows(study: optuna.Study) -> tuple[TrialRow, ...]:
    """All trials of the study, in trial-number order, any state."""
    objectives = study_objectives(study)
    trials = sorted(study.get_trials(deepcopy=False), key=lambda t: t.number)
    return tuple(trial_row(t, objectives) for t in trials)
