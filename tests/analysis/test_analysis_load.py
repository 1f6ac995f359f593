"""Opening studies, reading rows, masking storage passwords."""

from __future__ import annotations

import optuna
import pytest
from optuna.distributions import CategoricalDistribution
from optuna.trial import create_trial

from trials.record.storage import StudyError
from analysis.load import StudyNotFoundError, open_study, study_objectives, trial_rows


def test_rows_carry_states_values_by_name_and_attrs(search_study):
    study = open_study(search_study.storage, search_study.name)
    rows = {r.number: r for r in trial_rows(study)}
    assert [o.name for o in study_objectives(study)] == ["accuracy", "params", "macs"]
    assert [o.maximize for o in study_objectives(study)] == [True, False, False]
    lc16 = rows[search_study.numbers["lc16"]]
    assert lc16.complete and lc16.values["params"] == 121_030
    assert lc16.accuracy_samples == [0.834, 0.829, 0.841]
    assert lc16.values["accuracy"] == pytest.approx(sum(lc16.accuracy_samples) / 3)
    failed = rows[search_study.numbers["failed"]]
    assert failed.state == "FAIL" and failed.values == {} and "out of memory" in failed.error
    assert sorted(r.state for r in rows.values()).count("RUNNING") == 1
    # the spec attr lists irrelevant fields as None; the row's spec drops them
    assert rows[search_study.numbers["none16"]].spec == {"backbone": "plain", "width": 16, "fusion": "none"}


def test_objective_names_fall_back_to_positions_without_the_study_attr(tmp_path):
    storage = f"sqlite:///{tmp_path / 'bare.db'}"
    study = optuna.create_study(storage=storage, study_name="bare", directions=["maximize", "minimize"])
    study.add_trial(
        create_trial(params={"a": 1}, distributions={"a": CategoricalDistribution((1, 2))}, values=[0.5, 3])
    )
    objectives = study_objectives(study)
    assert [(o.name, o.maximize) for o in objectives] == [("obj0", True), ("obj1", False)]
    assert trial_rows(study)[0].values == {"obj0": 0.5, "obj1": 3.0}


def test_missing_study_names_it_and_lists_the_existing_ones(search_study):
    with pytest.raises(StudyNotFoundError) as error:
        open_study(search_study.storage, "no-such-study")
    assert "'no-such-study'" in str(error.value) and "'cfn-search'" in str(error.value)


def test_missing_sqlite_file_is_reported_not_created(tmp_path):
    path = tmp_path / "absent.db"
    with pytest.raises(StudyError, match="does not exist"):
        open_study(f"sqlite:///{path}", "x")
    assert not path.exists()


def test_a_foreign_sqlite_file_is_refused_and_left_untouched(tmp_path):
    import hashlib
    import sqlite3

    path = tmp_path / "notes.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE notes (text TEXT)")
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(StudyError, match="not an Optuna storage"):
        open_study(f"sqlite:///{path}", "x")
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.db"]
