"""The search's progress line: finished of budget, failed, and the current front size."""

from __future__ import annotations

import sys

import optuna
from optuna.trial import TrialState
from tqdm.auto import tqdm

from trials.record.storage import STORAGE_ERRORS
from trials.running.study import finished_count


class SearchProgress:
    def __init__(self, study: optuna.Study, budget: int, enabled: bool = True) -> None:
        self.study = study
        self.bar = tqdm(total=budget, initial=finished_count(study), desc=f"search {study.study_name}",
                        unit="trial", disable=not enabled, file=sys.stderr, dynamic_ncols=True)
        self.update()

    def update(self) -> None:
        try:
            self._update()
        except STORAGE_ERRORS:  # the progress line waits; the searcher decides what a broken storage means
            pass

    def _update(self) -> None:
        trials = self.study.get_trials(deepcopy=False)
        complete = sum(t.state == TrialState.COMPLETE for t in trials)
        self.bar.n = finished_count(self.study)
        self.bar.set_postfix(complete=complete, failed=sum(t.state == TrialState.FAIL for t in trials),
                             running=sum(t.state == TrialState.RUNNING for t in trials),
                             front=len(self.study.best_trials) if complete else 0, refresh=True)

    def close(self) -> None:
        self.update()
        self.bar.close()
