"""HCNN trained as its paper trains it (§2.3): bases alone first, then the combination."""

import dataclasses

import pytest
import torch

from search_space.spec import ArchSpec
from trials.config import TrainingConfig
from trials.data import DataConfig, load_data
from trials.train import PARTNER_SEED_OFFSET, train_spec

BASE = dict(backbone="plain", width=8, depth=1, side_channels=16, partner_backbone="resnet", partner_width=8,
            partner_depth=1)


@pytest.fixture(scope="module")
def tiny_data():
    return load_data(DataConfig(subset=600, val_fraction=0.2, seed=0))


@pytest.fixture(scope="module")
def cfg():
    return TrainingConfig(batch_size=64, lr=0.05, replicates=1, seed=3)


def _same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_avg_is_the_average_of_two_separately_trained_nets(tiny_data, cfg):
    spec = ArchSpec(**BASE, combination="avg")
    result = train_spec(spec, tiny_data, cfg, epochs=1)
    alone_a = train_spec(spec.single(), tiny_data, cfg, epochs=1).models[0]
    alone_b = train_spec(spec.partner(), tiny_data, dataclasses.replace(cfg, seed=cfg.seed + PARTNER_SEED_OFFSET),
                         epochs=1).models[0]
    combined = result.models[0]
    assert _same_weights(combined.nets[0], alone_a) and _same_weights(combined.nets[1], alone_b)
    assert result.base_seeds == [[3, 3 + PARTNER_SEED_OFFSET]]
    x = tiny_data.x_val[:16]
    combined.eval(), alone_a.eval(), alone_b.eval()
    with torch.no_grad():
        expected = ((alone_a(x).softmax(1) + alone_b(x).softmax(1)) / 2).log()
        assert torch.allclose(combined(x), expected, atol=1e-6)
    assert len(result.history_by_replicate) == 1 and len(result.history_by_replicate[0]) == 1


@pytest.mark.parametrize("finetune", [False, True])
def test_cl_trains_the_combination_on_frozen_bases_unless_finetuned(tiny_data, cfg, finetune):
    spec = ArchSpec(**BASE, combination="cl", cl_layers=2, cl_width=16, hcnn_finetune=finetune)
    result = train_spec(spec, tiny_data, cfg, epochs=1)
    alone_a = train_spec(spec.single(), tiny_data, cfg, epochs=1).models[0]
    combo = result.models[0]
    kept = combo.nets[0].state_dict()
    frozen = all(torch.equal(kept[k], alone_a.state_dict()[k]) for k in kept)
    assert frozen is (not finetune)
    assert len(result.base_accuracies[0]) == 2 and all(0 < a <= 1 for a in result.base_accuracies[0])
    assert 0 < result.accuracy_replicates[0] <= 1


@pytest.mark.slow
def test_table2_preset_runs_end_to_end_and_reports_the_gain(tmp_path):
    """`fusionscope ablate --preset hcnn-combination`: singles A and B, [A,A'] and [A,B] with avg and 2CL,
    trained for real on tiny data; the report states each combination's gain over the better single net."""
    import subprocess
    import sys

    storage = f"sqlite:///{tmp_path / 'hcnn.db'}"
    run = subprocess.run([sys.executable, "-m", "trials.cli", "ablate", "--preset", "hcnn-combination", "--epochs", "1",
                          "--subset", "600", "--replicates", "2", "--storage", storage], cwd=tmp_path,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    import optuna

    study = optuna.load_study(study_name="ablate-hcnn-combination", storage=storage)
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(done) == 6
    combos = [t for t in done if t.params["combination"] != "single"]
    assert {(t.params["combination"], t.params["partner_backbone"]) for t in combos} == {
        ("avg", "plain"), ("avg", "resnet"), ("cl", "plain"), ("cl", "resnet")}
    for t in combos:
        seeds = t.user_attrs["hcnn_base_seeds"]
        assert len(seeds) == 2 and seeds[0][0] != seeds[0][1]  # A' is A's architecture with another seed
        assert len(t.user_attrs["hcnn_base_accuracies"]) == 2
    report = subprocess.run([sys.executable, "-m", "trials.cli", "report", "--storage", storage, "--study",
                             "ablate-hcnn-combination", "-o", str(tmp_path / "report")], cwd=tmp_path,
                            capture_output=True, text=True, timeout=300)
    assert report.returncode == 0, report.stderr[-2000:]
    text = (tmp_path / "report" / "report.md").read_text()
    assert "HCNN: gain over the better single net" in text
    assert "[plain,plain]+avg (homogeneous: A, A')" in text and "[plain,resnet]+2CL" in text
