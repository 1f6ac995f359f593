"""``fusionscope claims``: each paper claim judged on its preset's study by the interval alone."""

from __future__ import annotations

import json

import numpy as np
import optuna
import pytest
from optuna.distributions import CategoricalDistribution
from optuna.trial import create_trial

from analysis.claims import CLAIMS, claim_results, judge
from tests.analysis.test_analysis_hcnn import hcnn_rows
from trials import record


def test_judge_reads_the_interval_only():
    assert judge("+", 0.2, 1.5) == "supported" and judge("+", -0.5, 1.5) == "unclear"
    assert judge("+", -2.0, -0.1) == "contradicted" and judge("-", -2.0, -0.1) == "supported"
    assert judge("≈", -0.8, 0.9) == "supported" and judge("≈", -1.93, 0.60) == "unclear"
    assert judge("≈", 1.2, 2.0) == "contradicted"
    assert judge("≥", -0.9, 3.0) == "supported" and judge("≥", -1.5, 0.2) == "unclear"
    assert judge("≥", -3.0, -1.2) == "contradicted"


def preset_study(storage: str, preset: str, factor: str, means: dict, seed: int = 0) -> None:
    study = optuna.create_study(storage=storage, study_name=f"ablate-{preset}", directions=["maximize", "minimize"])
    study.set_user_attr(record.STUDY_OBJECTIVES, ["accuracy", "params"])
    study.set_user_attr(record.STUDY_CONFIG, {"space": {factor: list(means)}})
    rng = np.random.default_rng(seed)
    for level, mean in means.items():
        accuracies = list((mean + rng.normal(0, 0.3, 3)) / 100)
        study.add_trial(create_trial(params={factor: level}, distributions={factor: CategoricalDistribution(list(means))},
                                     values=[float(np.mean(accuracies)), 1000.0],
                                     user_attrs={record.ACCURACY_REPLICATES: accuracies, record.PARAMS: 1000}))


def test_claims_on_preset_studies_of_one_storage(tmp_path):
    storage = f"sqlite:///{tmp_path / 'presets.db'}"
    preset_study(storage, "cfn-fusion", "fusion", {"none": 80.0, "sum": 77.0, "conv": 80.2, "lc": 83.0})
    hcnn = optuna.create_study(storage=storage, study_name="ablate-hcnn-combination",
                               directions=["maximize", "minimize"])
    hcnn.set_user_attr(record.STUDY_OBJECTIVES, ["accuracy", "params"])
    (row,) = hcnn_rows(np.random.default_rng(3), 80.0, 82.0, 3.0)[:1]
    params = {**row.params, "partner_backbone": "resnet", "combination": "cl", "cl_layers": 2}
    hcnn.add_trial(create_trial(params=params, distributions={k: CategoricalDistribution([v]) for k, v in params.items()},
                                values=[row.values["accuracy"], 1000.0], user_attrs={**row.attrs, record.PARAMS: 1000}))
    optuna.create_study(storage=storage, study_name="ablate-scfusion-alpha", directions=["maximize", "minimize"])
    results = {(r.claim.preset, str(r.claim.factor), str(r.claim.level)): r for r in claim_results(storage)}
    assert len(results) == len(CLAIMS)
    lc, conv, sum_ = (results[("cfn-fusion", "fusion", lvl)] for lvl in ("lc", "conv", "sum"))
    assert lc.verdict == "supported" and lc.clear and lc.ci_low > 0
    assert conv.verdict == "unclear" and not conv.clear and "the interval allows" in conv.note
    assert sum_.verdict == "contradicted" and sum_.clear
    gain = results[("hcnn-combination", "None", "None")]
    assert gain.verdict == "supported" and "vs base B" in gain.note
    not_run = results[("scff-detach", "detach", "True")]
    assert not_run.verdict == "not run" and "fusionscope ablate --preset scff-detach" in not_run.note
    started = results[("scfusion-alpha", "alpha", "4")]  # a study still running its first trials
    assert started.verdict == "not run" and "no complete trial yet" in started.note


def test_the_claims_command_writes_markdown_and_json(tmp_path, capsys):
    from fusionscope.cli import main

    storage = f"sqlite:///{tmp_path / 'presets.db'}"
    preset_study(storage, "cfn-strategy", "strategy", {"eflp": 80.0, "eplf": 80.1})
    assert main(["claims", "--storage", storage, "-o", str(tmp_path / "claims")]) == 0
    data = json.loads((tmp_path / "claims" / "claims.json").read_text())
    (eplf,) = [c for c in data["claims"] if c["preset"] == "cfn-strategy"]
    assert eplf["verdict"] == "supported" and -1 < eplf["ci_low"] < eplf["ci_high"] < 1
    markdown = (tmp_path / "claims" / "claims.md").read_text()
    assert "| CFN | §3.1 | EFLP is as accurate as EPLF (with fewer parameters) | cfn-strategy | within ±1 |" in markdown
    assert "# The papers' claims on this data" in capsys.readouterr().out


def test_a_verdict_that_is_not_settled_is_not_clear():
    from analysis.claims import ClaimResult

    claim = CLAIMS[1]
    assert ClaimResult(claim, "s", 1.8, 0.6, 3.1, "supported", "", settled=None).clear
    assert not ClaimResult(claim, "s", 1.8, 0.6, 3.1, "supported", "", settled=False).clear
