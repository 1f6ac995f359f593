"""Issue #20: storage faults, foreign studies and studies shared by two configs.

The refusals here all happen before Ray starts or anything trains: each test runs the real
command in-process and checks the one ``error:`` line, the exit code and that the storage
holds exactly what it held before.
"""

from __future__ import annotations

import optuna
import pytest
import yaml
from optuna.trial import TrialState

from fusionscope.cli import main
from tests.trials.tiny import TINY, write_tiny_config
from trials import config as config_mod
from trials import record
from trials.study import open_study


def error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    return err


def trial_states(url: str, study: str) -> list[str]:
    return [t.state.name for t in optuna.load_study(study_name=study, storage=url).get_trials()]


def tiny(tmp_path, **changes):
    path = write_tiny_config(tmp_path, storage=f"sqlite:///{tmp_path / 'x.db'}", **changes)
    return path, f"sqlite:///{tmp_path / 'x.db'}"


# --- 2: a study fusionscope did not make ----------------------------------------------------
@pytest.mark.parametrize("directions", [["maximize"], ["maximize", "minimize"]])
def test_a_search_into_a_plain_optuna_study_is_refused_before_training(tmp_path, capsys, directions) -> None:
    path, url = tiny(tmp_path)
    study = optuna.create_study(study_name="tiny", storage=url, directions=directions)
    for x in (0.1, 0.2):
        study.add_trial(optuna.trial.create_trial(values=[x] * len(directions), params={},
                                                  distributions={}))
    assert main(["search", "--config", str(path), "--no-progress"]) == 2
    err = error_line(capsys)
    assert "study 'tiny' in sqlite:///" in err and "was not made by fusionscope" in err, err
    assert trial_states(url, "tiny") == ["COMPLETE", "COMPLETE"]
    # --resume counts nothing foreign either: refused the same way
    assert main(["search", "--config", str(path), "--resume", "--no-progress"]) == 2
    assert "was not made by fusionscope" in error_line(capsys)
    assert trial_states(url, "tiny") == ["COMPLETE", "COMPLETE"]


def test_a_fusionscope_study_with_other_directions_is_refused(tmp_path, capsys) -> None:
    path, url = tiny(tmp_path)
    study = optuna.create_study(study_name="tiny", storage=url, directions=["minimize", "minimize"])
    study.set_user_attr(record.STUDY_OBJECTIVES, ["accuracy", "macs"])
    study.set_user_attr(record.STUDY_CONFIG, config_mod.load(path).to_dict())
    assert main(["search", "--config", str(path), "--no-progress"]) == 2
    assert "exists with objectives ['accuracy', 'macs'] (['minimize', 'minimize'])" in error_line(capsys)
    assert trial_states(url, "tiny") == []


# --- 3: two configs on one study --------------------------------------------------------------
def test_a_second_config_that_changes_what_a_trial_means_is_refused_naming_the_keys(tmp_path, capsys) -> None:
    path, url = tiny(tmp_path)
    open_study(config_mod.load(path), url)  # the study as the first driver made it
    other = tmp_path / "other.yaml"
    raw = yaml.safe_load(path.read_text())
    raw["budget"]["epochs"] = 3
    raw["space"]["fusion"] = ["none", "conv"]
    raw["training"]["lr"] = 0.1
    other.write_text(yaml.safe_dump(raw))
    assert main(["search", "--config", str(other), "--no-progress"]) == 2
    err = error_line(capsys)
    assert "was made with another config" in err, err
    for key in ("budget.epochs: 1 in the study, 3 here", "space.fusion", "training.lr: 0.05 in the study, 0.1 here"):
        assert key in err, err
    assert trial_states(url, "tiny") == []


def test_the_same_config_with_a_larger_budget_or_other_resources_is_accepted(tmp_path) -> None:
    path, url = tiny(tmp_path)
    first = config_mod.load(path)
    open_study(first, url)
    raw = yaml.safe_load(path.read_text())
    raw["budget"]["trials"] = 40
    raw["resources"] = {"cpus_per_trial": 2, "concurrent": 1}
    raw["sampler"] = {"name": "tpe", "seed": 3}
    again = open_study(config_mod.from_dict(raw), url)
    assert again.user_attrs[record.STUDY_CONFIG]["budget"]["trials"] == TINY["budget"]["trials"]
