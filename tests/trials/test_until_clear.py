"""``ablate --until-clear``: seeds added in rounds to the designs whose contrasts are unresolved.

The fast tests check the pieces a round relies on (other seeds of a design are not another
meaning of the study; the schedule of looks); the slow one runs the command end to end on tiny
data and reads the study back.
"""

from __future__ import annotations

import dataclasses

import pytest

from trials import config as config_mod
from trials.study import StudyError, open_study
from trials.until_clear import schedule
from tests.trials.tiny import TINY


def _config(**training):
    raw = {**TINY, "training": {**TINY["training"], **training}}
    return config_mod.from_dict(raw)


def test_other_seeds_of_the_same_designs_are_accepted_and_other_meanings_still_refused(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'tiny.db'}"
    open_study(_config(replicates=2, seed=0), url)
    again = open_study(_config(replicates=3, seed=2), url)  # a later round: seeds 2, 3, 4 of the same designs
    assert again.user_attrs["config"]["training"]["seed"] == 0  # the study keeps its first record
    with pytest.raises(StudyError, match="training.lr: 0.05 in the study, 0.1 here"):
        open_study(_config(replicates=3, seed=2, lr=0.1), url)
    with pytest.raises(StudyError, match="budget.epochs"):
        config = _config(seed=2)
        open_study(dataclasses.replace(config, budget=dataclasses.replace(config.budget, epochs=3)), url)


def test_the_schedule_adds_the_first_rounds_seeds_each_round_up_to_the_cap() -> None:
    assert schedule(3, 12) == [3, 6, 9, 12]
    assert schedule(3, 10) == [3, 6, 9, 10]
    assert schedule(2, 4) == [2, 4]
    assert schedule(4, 4) == [4]
    assert schedule(2, 5, step=1) == [2, 3, 4, 5]
