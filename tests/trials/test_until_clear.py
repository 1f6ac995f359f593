"""``ablate --until-clear``: seeds added in rounds to the designs whose contrasts are unresolved.

The fast tests check the pieces a round relies on (other seeds of a design are not another
meaning of the study; the schedule of looks); the slow one runs the command end to end on tiny
data and reads the study back.
"""

from __future__ import annotations

import dataclasses

import pytest

from trials import config as config_mod
from trials.running.study import StudyError, open_study
from trials.running.until_clear import schedule
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


# --- the round loop with a stand-in judge and trainer (no Ray): what is recorded and asked --------
def _preset_config(tmp_path, replicates=2):
    from trials.presets import apply_overrides, preset_config

    raw = apply_overrides(preset_config("cfn-fusion", "cpu", replicates, 1, 600), ["width=8"])
    raw["storage"] = f"sqlite:///{tmp_path / 'uc.db'}"
    return config_mod.from_dict(raw)


def test_rounds_give_seeds_only_to_the_judged_designs_and_resume_with_the_recorded_decisions(tmp_path) -> None:
    from trials import record
    from trials.running.until_clear import Plan, UntilClearError, Verdict, run_until_clear

    config = _preset_config(tmp_path)
    keys = [spec.key() for spec in config.search_space().grid()]
    ref, slow = keys[0], keys[3]
    asked: list[tuple[int, int, frozenset | None]] = []

    def run_round(cfg, designs):
        asked.append((cfg.training.seed, cfg.training.replicates, designs))

    def judge(url, study, look):  # look 1: one contrast unresolved; look 2: all clear
        return Verdict(frozenset({ref, slow}) if look == 1 else frozenset(), (f"look {look}",))

    plan = Plan(0, (2, 4, 6), 2.0)
    allocations = run_until_clear(config, plan, judge, run_round, config.storage_url, say=lambda line: None)
    assert asked == [(0, 2, None), (2, 2, frozenset({ref, slow}))]
    assert allocations[1] == {ref: [2, 3], slow: [2, 3]} and len(allocations) == 2
    import optuna

    recorded = optuna.load_study(study_name=config.study, storage=config.storage_url).user_attrs
    assert recorded[record.STUDY_UNTIL_CLEAR]["allocations"][1] == {ref: [2, 3], slow: [2, 3]}
    # the same command again: the recorded rounds are trained again (the searcher skips trained seeds),
    # nothing new is decided
    asked.clear()
    run_until_clear(config, plan, judge, run_round, config.storage_url, say=lambda line: None)
    assert asked == [(0, 2, None), (2, 2, frozenset({ref, slow}))]
    with pytest.raises(UntilClearError, match="another plan"):
        run_until_clear(config, Plan(0, (2, 4, 6, 8), 2.0), judge, run_round, config.storage_url)


def test_a_design_that_skipped_rounds_is_brought_up_with_its_own_next_seeds() -> None:
    from trials.running.until_clear import next_allocation, seeds_at

    allocations = [{"a": [0, 1, 2], "b": [0, 1, 2]}, {"a": [3, 4, 5]}]
    have = seeds_at(allocations, 2)
    assert next_allocation(have, frozenset({"a", "b"}), 9, 0) == {"a": [6, 7, 8], "b": [3, 4, 5, 6, 7, 8]}
    assert next_allocation(have, frozenset({"a"}), 6, 0) == {}  # already there


def test_the_grid_walk_queues_a_design_again_only_for_seeds_it_has_not_trained(tmp_path) -> None:
    """A trained spec is a repeat only with one of the same seeds; ``designs`` restricts the walk."""
    import optuna

    from trials import record
    from trials.running.searcher import StudySearcher

    first = _preset_config(tmp_path)
    study = open_study(first, first.storage_url)
    grid = first.search_space().grid()
    trial = study.ask(fixed_distributions={})
    trial.set_user_attr(record.SPEC_KEY, grid[1].key())
    trial.set_user_attr(record.SEEDS, [0, 1])
    study.tell(trial, [0.5, 100])

    def pending(config, designs=None):
        searcher = StudySearcher(study, config, config.search_space(), [], (10, 1, 28), {}, {}, lambda: None,
                                 designs=designs)
        return [spec.key() for spec in grid if spec.to_params() in list(searcher.pending)]

    keys = [s.key() for s in grid]
    assert pending(first) == [k for k in keys if k != grid[1].key()]  # seeds 0, 1 of grid[1] are trained
    later = dataclasses.replace(first, training=dataclasses.replace(first.training, seed=2))
    assert pending(later) == keys  # seeds 2, 3: nobody trained them
    assert pending(later, frozenset({keys[0], keys[1]})) == keys[:2]
    overlapping = dataclasses.replace(first, training=dataclasses.replace(first.training, seed=1))
    assert grid[1].key() not in pending(overlapping)  # seed 1 again would count one seed twice
    del optuna


# --- end to end (slow: Ray and real training on tiny data) ----------------------------------------
@pytest.mark.slow
def test_ablate_until_clear_adds_seeds_to_unresolved_designs_only_and_reports_it(tmp_path) -> None:
    import json
    import subprocess
    import sys
    from pathlib import Path

    import optuna

    from trials import record

    root = Path(__file__).resolve().parents[2]
    url = f"sqlite:///{tmp_path / 'uc.db'}"
    out = subprocess.run(
        [sys.executable, "-m", "fusionscope", "ablate", "--preset", "cfn-fusion", "--set", "data.subset=600",
         "--set", "budget.epochs=1", "--set", "width=8", "--replicates", "2", "--max-replicates", "4",
         "--until-clear", "--storage", url, "--no-progress", "--report", str(tmp_path / "report")],
        cwd=tmp_path, capture_output=True, text=True, timeout=900,
        env={**__import__("os").environ, "PYTHONPATH": str(root)})
    assert out.returncode == 0, out.stderr[-3000:]
    assert "look 1 of at most 2" in out.stdout, out.stdout
    study = optuna.load_study(study_name="ablate-cfn-fusion", storage=url)
    plan = study.user_attrs[record.STUDY_UNTIL_CLEAR]
    assert plan["looks"] == [2, 4] and plan["base_seed"] == 0
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    trained = [(t.user_attrs[record.SPEC_KEY], s) for t in complete for s in t.user_attrs[record.SEEDS]]
    assert len(trained) == len(set(trained))  # no design trained twice with one seed
    by_design: dict[str, list[int]] = {}
    for key, seed in trained:
        by_design.setdefault(key, []).append(seed)
    assert len(by_design) == 4 and all(sorted(s)[:2] == [0, 1] for s in by_design.values())
    report = json.loads((tmp_path / "report" / "report.json").read_text())["until_clear"]
    first_look = report["rounds"][0]["seeds"]
    assert sorted(first_look) == sorted(by_design) and all(v == [0, 1] for v in first_look.values())
    # round 2 went exactly to the designs of the contrasts look 1 left unresolved, each with seeds 2, 3
    from analysis.until_clear import study_until_clear

    info = study_until_clear(url, "ablate-cfn-fusion")
    wanted = info.looks[0].designs_needing_seeds
    extra = {k for k, s in by_design.items() if sorted(s) == [0, 1, 2, 3]}
    assert extra == set(wanted) and all(sorted(s) in ([0, 1], [0, 1, 2, 3]) for s in by_design.values())
    assert (len(report["rounds"]) == 2) == bool(wanted)
    assert report["correction"] == "Bonferroni over the K possible looks" and report["confidence"] == 0.975
    assert {c["level"] for c in report["contrasts"]} == {"sum", "conv", "lc"}
    markdown = (tmp_path / "report" / "report.md").read_text()
    assert "## Seeds added until clear" in markdown and "97.5% interval" in markdown


@pytest.mark.parametrize("argv, words", [
    (["--margin", "1"], "--margin applies to --until-clear only"),
    (["--max-replicates", "6"], "--max-replicates applies to --until-clear only"),
    (["--until-clear", "--max-replicates", "2"], "--max-replicates 2 is below --replicates 3"),
    (["--until-clear", "--set", "budget.early_stopping=asha"], "needs every trial trained to the end"),
])
def test_bad_until_clear_options_are_one_error_line_before_anything_trains(tmp_path, capsys, argv, words) -> None:
    from fusionscope.cli import main

    db = tmp_path / "x.db"
    assert main(["ablate", "--preset", "cfn-fusion", "--storage", f"sqlite:///{db}", *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and words in err[0], err
    assert not db.exists()
