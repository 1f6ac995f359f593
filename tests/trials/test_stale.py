"""A driver never ends its own trials as stale, and a trial ended elsewhere does not crash it.

On a loaded machine a driver's heartbeat thread can be starved past the grace period; the
driver is still alive.  Before this rule it failed its own running trial as interrupted and
then crashed writing that trial's next result (``UpdateFinishedTrialError``), losing the search.
"""

from __future__ import annotations

import time

import optuna
from optuna.trial import TrialState

from tests.trials.tiny import tiny_mapping
from trials import config as config_mod
from trials import record
from trials.running.searcher import StudySearcher
from trials.running.study import fail_stale, open_study


def _study(tmp_path):
    config = config_mod.from_dict(tiny_mapping(storage=f"sqlite:///{tmp_path / 'stale.db'}"))
    return config, open_study(config, config.storage_url)


def test_fail_stale_spares_the_callers_own_trials_and_fails_the_others(tmp_path) -> None:
    # its own storage with a 2 s grace period (trials.record.storage reads its own from the environment
    # once, at first import, which in a whole-suite run happens before tests/trials/conftest.py sets it)
    storage = optuna.storages.RDBStorage(f"sqlite:///{tmp_path / 'stale.db'}", heartbeat_interval=1, grace_period=2)
    study = optuna.create_study(study_name="stale", storage=storage, directions=["maximize", "minimize"])
    mine, theirs = study.ask(), study.ask()
    for trial in (mine, theirs):
        trial.set_user_attr(record.DRIVER, "host:1")
        storage.record_heartbeat(trial._trial_id)
    time.sleep(3.5)  # both heartbeats lapse: to Optuna both are stale
    assert set(storage._get_stale_trial_ids(study._study_id)) == {mine._trial_id, theirs._trial_id}
    fail_stale(study, alive=[mine._trial_id])
    states = {t.number: t for t in study.get_trials(deepcopy=False)}
    assert states[mine.number].state == TrialState.RUNNING
    assert states[theirs.number].state == TrialState.FAIL and states[theirs.number].user_attrs[record.INTERRUPTED]


def test_a_result_for_a_trial_ended_elsewhere_keeps_that_record_and_the_search_going(tmp_path, capsys) -> None:
    config, study = _study(tmp_path)
    searcher = StudySearcher(study, config, config.search_space(), [], (10, 1, 28), {}, {}, lambda: None)
    trial = study.ask()
    searcher.live["t"] = trial
    other = optuna.load_study(study_name=config.study, storage=config.storage_url)
    other.tell(trial.number, state=TrialState.FAIL)  # another driver ended it
    searcher.on_trial_complete("t", None, error=True)  # must not raise
    assert "t" not in searcher.live and searcher.failure is None
    assert "was ended by another driver" in capsys.readouterr().err
    ended = study.get_trials(deepcopy=False)[trial.number]
    assert ended.state == TrialState.FAIL and record.ERROR not in ended.user_attrs  # that record, unchanged
